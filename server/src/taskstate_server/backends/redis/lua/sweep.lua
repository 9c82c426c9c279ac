-- KEYS: the expiry set (Pexpiring)
-- ARGV: prefix, now, limit, channel, epoch, keep, grace
-- -> {purged, examined}: purges up to `limit` tasks whose expire_at <= now, any owner,
--    logging EXPIRED for each (with its last version, 0 if Redis deleted the record already)
local expiring = KEYS[1]
local now, limit = tonumber(ARGV[2]), tonumber(ARGV[3])
local members = redis.call('ZRANGEBYSCORE', expiring, '-inf', now, 'LIMIT', 0, limit)
local purged = 0
for _, member in ipairs(members) do
  local tag, tid = string.match(member, '^({[^{}]*}):(.*)$')
  if not tag then
    redis.call('ZREM', expiring, member)  -- not one of ours
  else
    local c = ctx(ARGV[1], tag, tag_owner(tag), ARGV[2], ARGV[4], ARGV[5], ARGV[6], ARGV[7])
    local e = redis.call('HGET', c.base .. 't:' .. tid, 'e')
    if e and tonumber(e) > now then
      redis.call('ZADD', expiring, e, member)  -- renewed behind the index's back: repair
    else
      purged = purged + purge(c, tid, 'x')
    end
  end
end
return {purged, #members}
