-- KEYS: the status sets to merge (P{O}:s:<status>, at most a few)
-- ARGV: base, upper bound ('+' for all, '(' .. before_task_id for a page), limit, now
-- -> {task_id, {v, d, a, e, s, l, g}, ...} newest first, only unexpired records
-- A k-way merge: each set is read in batches from the cursor down, so a page costs about
-- `limit` ids per set and `limit` records, whatever the owner holds in other statuses.
local base, hi, limit, now = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local batch = limit + 16
local sets = {}
for i, key in ipairs(KEYS) do
  local ids = redis.call('ZRANGE', key, hi, '-', 'BYLEX', 'REV', 'LIMIT', 0, batch)
  sets[i] = {key = key, ids = ids, at = 1, more = #ids == batch}
end
local out, n = {}, 0
while n < limit do
  local best = nil
  for _, set in ipairs(sets) do
    local tid = set.ids[set.at]
    if tid and (not best or lex_lt(best.ids[best.at], tid)) then
      best = set
    end
  end
  if not best then
    break
  end
  local tid = best.ids[best.at]
  best.at = best.at + 1
  if best.at > #best.ids and best.more then
    best.ids = redis.call('ZRANGE', best.key, '(' .. tid, '-', 'BYLEX', 'REV', 'LIMIT', 0, batch)
    best.at, best.more = 1, #best.ids == batch
  end
  local f, present = read_record(base, tid, now)
  if f then
    out[#out + 1] = tid
    out[#out + 1] = f
    n = n + 1
  elseif not present then
    redis.call('ZREM', best.key, tid)  -- Redis deleted the record before a sweep: forget it
  end
end
return out
