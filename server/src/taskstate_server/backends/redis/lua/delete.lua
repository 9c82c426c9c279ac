-- KEYS: record
-- ARGV: the context (1-8), task_id
-- -> 1 (deleted) | 0 (no unexpired record)
local c = argv_ctx()
local key, tid = KEYS[1], ARGV[9]

local f = redis.call('HMGET', key, 'v', 'e', 'd')
if not f[1] or (f[2] and tonumber(f[2]) <= c.now) then
  -- Missing, or expired: left for the sweeper, which logs its expiry.
  return 0
end
if purge(c, tid, 'd') == 0 then
  -- Not indexed (cannot happen unless the keys were edited by hand): log it anyway.
  commit(c, tid, 'd', f[1], '', '', record_subject(f[3]))
end
return 1
