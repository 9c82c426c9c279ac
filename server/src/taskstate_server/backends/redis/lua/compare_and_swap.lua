-- KEYS: record
-- ARGV: the context (1-8), task_id, expected_version, version, data, active, expire_at|'',
--       status|'', lease_until|'', claim_group|''
-- -> {'ok'} | {'missing'} | {'conflict', actual_version}
local c = argv_ctx()
local key = KEYS[1]
local tid, expected = ARGV[9], ARGV[10]
local r = {
  v = ARGV[11], d = ARGV[12], a = ARGV[13], e = ARGV[14],
  s = ARGV[15], l = ARGV[16], g = ARGV[17],
}

local f = redis.call('HMGET', key, 'v', 'e', 'r', 's', 'l', 'g')
if not f[1] or (f[2] and tonumber(f[2]) <= c.now) then
  return {'missing'}
end
if f[1] ~= expected then
  return {'conflict', f[1]}
end
local old = {e = f[2] or '', s = f[4] or '', l = f[5] or '', g = f[6] or ''}
write_record(c, key, tid, r, old, '')
if f[3] then
  -- Keep the request id alive exactly as long as its task.
  local rkey = c.base .. 'req:' .. f[3]
  if redis.call('GET', rkey) == tid then
    if r.e ~= '' then
      redis.call('PEXPIRE', rkey, key_ttl(c, r.e))
    else
      redis.call('PERSIST', rkey)
    end
  end
end
commit(c, tid, 'w', r.v, r.a, r.e, r.d)
return {'ok'}
