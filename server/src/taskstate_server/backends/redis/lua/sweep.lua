-- KEYS: the owner's expiry index (P{O}:exp)
-- ARGV: base, owner, now, limit, channel
-- -> {purged, examined}
return purge_expired(ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5])
