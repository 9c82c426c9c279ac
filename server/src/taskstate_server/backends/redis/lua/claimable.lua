-- KEYS: a claim set (P{O}:claim, or P{O}:claim:<group>)
-- ARGV: base, limit, now
-- -> {task_id, {v, d, a, e, s, l, g}, ...} oldest first, only unexpired records
return page_records(KEYS[1], ARGV[1], '-', false, tonumber(ARGV[2]), tonumber(ARGV[3]), true)
