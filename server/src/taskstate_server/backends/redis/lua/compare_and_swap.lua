-- KEYS: record
-- ARGV: base, owner, task_id, expected_version, version, data, active, expire_at|'', now, channel
-- -> {'ok'} | {'missing'} | {'conflict', actual_version}
local key = KEYS[1]
local base, owner, tid, expected = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local v, d, a, e = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local now, channel = tonumber(ARGV[9]), ARGV[10]

local f = redis.call('HMGET', key, 'v', 'e', 'r')
if not f[1] or (f[2] and tonumber(f[2]) <= now) then
  return {'missing'}
end
if f[1] ~= expected then
  return {'conflict', f[1]}
end
write_record(base, key, tid, v, d, a, e, now, '')
if f[3] then
  -- Keep the request id alive exactly as long as its task.
  local rkey = base .. 'req:' .. f[3]
  if redis.call('GET', rkey) == tid then
    if e ~= '' then
      redis.call('PEXPIRE', rkey, remaining_ms(e, now))
    else
      redis.call('PERSIST', rkey)
    end
  end
end
redis.call('PUBLISH', channel, change_msg(owner, tid, v, a, e, d))
return {'ok'}
