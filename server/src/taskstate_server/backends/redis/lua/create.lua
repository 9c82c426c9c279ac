-- KEYS: record, request-id key (the record key again when there is no request id)
-- ARGV: base, owner, task_id, version, data, active, expire_at|'', now, max_active,
--       request_id|'', channel
-- -> {'created'} | {'exists', task_id, v, d, a, e|''} | {'quota'}
local key, rkey = KEYS[1], KEYS[2]
local base, owner, tid = ARGV[1], ARGV[2], ARGV[3]
local v, d, a, e = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local now, max_active = tonumber(ARGV[8]), tonumber(ARGV[9])
local rid, channel = ARGV[10], ARGV[11]

-- Expired tasks stay in the indexes (reads skip them) until sweep_expired purges them and
-- publishes their deletions; only the quota set drops them here, before counting.

if rid ~= '' then
  local held = redis.call('GET', rkey)
  if held then
    local f = redis.call('HMGET', base .. 't:' .. held, 'v', 'd', 'a', 'e')
    if f[1] and (not f[4] or tonumber(f[4]) > now) then
      return {'exists', held, f[1], f[2], f[3], f[4] or ''}
    end
    -- The holder of this request id has expired: it no longer exists.
    purge(base, owner, held, channel)
    redis.call('DEL', rkey)
  end
end

local act = base .. 'act'
redis.call('ZREMRANGEBYSCORE', act, '-inf', now)
if redis.call('ZCARD', act) >= max_active then
  return {'quota'}
end

redis.call('DEL', key)
write_record(base, key, tid, v, d, a, e, now, rid)
if rid ~= '' then
  if e ~= '' then
    redis.call('SET', rkey, tid, 'PX', remaining_ms(e, now))
  else
    redis.call('SET', rkey, tid)
  end
end
redis.call('PUBLISH', channel, change_msg(owner, tid, v, a, e, d))
return {'created'}
