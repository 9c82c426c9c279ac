-- KEYS: record, request-id key (the record key again when there is no request id)
-- ARGV: the context (1-8), task_id, version, data, active, expire_at|'', status|'',
--       lease_until|'', claim_group|'', max_active, request_id|''
-- -> {'created'} | {'exists', task_id, {v, d, a, e, s, l, g}} | {'quota'}
local c = argv_ctx()
local key, rkey = KEYS[1], KEYS[2]
local tid = ARGV[9]
local r = {
  v = ARGV[10], d = ARGV[11], a = ARGV[12], e = ARGV[13],
  s = ARGV[14], l = ARGV[15], g = ARGV[16],
}
local max_active, rid = tonumber(ARGV[17]), ARGV[18]

-- Expired tasks stay in the indexes (reads skip them) until sweep_expired purges them and
-- logs their expiry; only the quota set drops them here, before counting.

if rid ~= '' then
  local held = redis.call('GET', rkey)
  if held then
    local f = read_record(c.base, held, c.now)
    if f then
      return {'exists', held, f}
    end
    -- The holder of this request id has expired: it no longer exists.
    purge(c, held, 'x')
    redis.call('DEL', rkey)
  end
end

local act = c.base .. 'act'
redis.call('ZREMRANGEBYSCORE', act, '-inf', c.now)
if redis.call('ZCARD', act) >= max_active then
  return {'quota'}
end

if redis.call('EXISTS', key) == 1 then
  purge(c, tid, 'x')  -- a leftover under this id (ids are never reused): expired
end
write_record(c, key, tid, r, NO_FACTS, rid)
if rid ~= '' then
  if r.e ~= '' then
    redis.call('SET', rkey, tid, 'PX', key_ttl(c, r.e))
  else
    redis.call('SET', rkey, tid)
  end
end
commit(c, tid, 'w', r.v, r.a, r.e, r.d)
return {'created'}
