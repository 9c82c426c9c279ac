-- KEYS: record
-- ARGV: base, owner, task_id, now, channel
-- -> 1 (deleted) | 0 (no unexpired record)
local key = KEYS[1]
local base, owner, tid = ARGV[1], ARGV[2], ARGV[3]
local now, channel = tonumber(ARGV[4]), ARGV[5]

local f = redis.call('HMGET', key, 'v', 'e')
if not f[1] or (f[2] and tonumber(f[2]) <= now) then
  -- Missing, or expired: left for the sweeper, which publishes its deletion.
  return 0
end
if purge(base, owner, tid, channel) == 0 then
  -- Not indexed (cannot happen unless the keys were edited by hand): publish anyway.
  redis.call('PUBLISH', channel, change_msg(owner, tid, '', '', '', ''))
end
return 1
