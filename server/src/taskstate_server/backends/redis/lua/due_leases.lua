-- KEYS: the lease set (Pleases: member `{O}:<task_id>`, score = lease end)
-- ARGV: prefix, now, limit
-- -> {member, ...}: up to `limit` unexpired records of any owner whose lease end <= now
local key = KEYS[1]
local prefix, now, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local out, gone, offset = {}, {}, 0
local batch = limit + 16
while #out < limit do
  local members = redis.call('ZRANGEBYSCORE', key, '-inf', now, 'LIMIT', offset, batch)
  for _, member in ipairs(members) do
    local tag, tid = string.match(member, '^({[^{}]*}):(.*)$')
    local f = {false, false}
    if tag then
      f = redis.call('HMGET', prefix .. tag .. ':t:' .. tid, 'v', 'e')
    end
    if not f[1] then
      gone[#gone + 1] = member  -- Redis deleted the record before a sweep: forget it
    elseif not f[2] or tonumber(f[2]) > now then
      out[#out + 1] = member
      if #out >= limit then
        break
      end
    end
  end
  if #members < batch then
    break
  end
  offset = offset + batch
end
for _, member in ipairs(gone) do
  redis.call('ZREM', key, member)
end
return out
