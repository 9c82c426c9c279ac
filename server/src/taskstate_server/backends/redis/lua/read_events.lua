-- KEYS: the owner's log (P{O}:ev)
-- ARGV: base, after, limit, now, epoch (the epoch to create the log with, if it has none)
-- -> {epoch, head, compacted (0|1), {position, kind, task_id, version, ms, record, u}, ...}
--    record: {v, d, a, e, s, l, g} for a WRITE whose task exists unexpired, else {};
--    u: a removal's subject ('' for none, for writes and for entries from before subjects)
local ev = KEYS[1]
local base, after, limit, now = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local evm = base .. 'evm'
local m = redis.call('HMGET', evm, 'epoch', 'last', 'low')
local epoch = m[1]
if not epoch then
  epoch = ARGV[5]
  redis.call('HSET', evm, 'epoch', epoch)
end
local head, low = m[2] or '0-0', m[3] or '0-0'
local p = pos_parse(after)
if not p or pos_lt(p, pos_parse(low)) or pos_lt(pos_parse(head), p) then
  return {epoch, head, 1}
end
local entries = {}
if after ~= head then
  entries = redis.call('XRANGE', ev, after, '+', 'COUNT', limit + 1)
  if entries[1] and entries[1][1] == after then
    table.remove(entries, 1)
  elseif after ~= low then
    return {epoch, head, 1}  -- not a position of this log
  end
end
local out = {epoch, head, 0}
local records = {}
for i = 1, math.min(limit, #entries) do
  local id, fields = entries[i][1], entries[i][2]
  local e = {}
  for j = 1, #fields, 2 do
    e[fields[j]] = fields[j + 1]
  end
  local record = {}
  if e.k == 'w' then
    record = records[e.t]
    if record == nil then
      record = read_record(base, e.t, now) or {}
      records[e.t] = record
    end
  end
  out[#out + 1] = {id, e.k, e.t, e.v, e.ms, record, e.u or ''}
end
return out
