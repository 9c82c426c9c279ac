-- KEYS: the owner index (P{O}:idx)
-- ARGV: base, upper bound ('+' for all, '(' .. before_task_id for a page), limit, now
-- -> flat {task_id, v, d, a, e|'', ...} newest first, only unexpired records
local idx = KEYS[1]
local base, hi, limit, now = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local out, n = {}, 0
local batch = limit + 16
while n < limit do
  local ids = redis.call('ZRANGE', idx, hi, '-', 'BYLEX', 'REV', 'LIMIT', 0, batch)
  for _, tid in ipairs(ids) do
    local f = redis.call('HMGET', base .. 't:' .. tid, 'v', 'd', 'a', 'e')
    if f[1] and (not f[4] or tonumber(f[4]) > now) then
      out[#out + 1] = tid
      out[#out + 1] = f[1]
      out[#out + 1] = f[2] or ''
      out[#out + 1] = f[3] or '0'
      out[#out + 1] = f[4] or ''
      n = n + 1
      if n >= limit then
        break
      end
    end
  end
  if #ids < batch then
    break
  end
  hi = '(' .. ids[#ids]
end
return out
