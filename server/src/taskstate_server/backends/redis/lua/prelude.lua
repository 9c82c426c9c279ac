-- Helpers the scripts share (prepended to those that use them). `base` is the owner's key
-- prefix `P{O}:`.
-- Milliseconds until `e` by the caller's clock; at least 1 so a key never vanishes mid-script.
local function remaining_ms(e, now)
  return math.max(tonumber(e) - now, 1)
end

local function lp(s)
  return string.len(s) .. ':' .. s
end

local function change_msg(owner, tid, v, a, e, d)
  return lp(owner) .. lp(tid) .. lp(v) .. lp(a) .. lp(e) .. lp(d)
end

-- Removes every trace of task `tid`; publishes its deletion if it was indexed.
local function purge(base, owner, tid, channel)
  local key = base .. 't:' .. tid
  local rid = redis.call('HGET', key, 'r')
  if rid then
    local rkey = base .. 'req:' .. rid
    if redis.call('GET', rkey) == tid then
      redis.call('DEL', rkey)
    end
  end
  redis.call('DEL', key)
  redis.call('ZREM', base .. 'act', tid)
  redis.call('ZREM', base .. 'exp', tid)
  if redis.call('ZREM', base .. 'idx', tid) == 1 then
    redis.call('PUBLISH', channel, change_msg(owner, tid, '', '', '', ''))
    return 1
  end
  return 0
end

-- Purges up to `budget` tasks whose expire_at <= now. Returns {purged, examined}.
local function purge_expired(base, owner, now, budget, channel)
  local exp = base .. 'exp'
  local ids = redis.call('ZRANGEBYSCORE', exp, '-inf', now, 'LIMIT', 0, budget)
  local purged = 0
  for _, tid in ipairs(ids) do
    local e = redis.call('HGET', base .. 't:' .. tid, 'e')
    if e and tonumber(e) > now then
      redis.call('ZADD', exp, e, tid)  -- renewed behind the index's back: repair
    else
      purged = purged + purge(base, owner, tid, channel)
    end
  end
  return {purged, #ids}
end

-- Writes the record's hash, its key expiry and the indexes (all but the request id key).
-- The key expires after the time the record has left by the CALLER's clock (PEXPIRE, not
-- PEXPIREAT), so Redis' clock and the servers' clocks need not agree; reads check expire_at.
local function write_record(base, key, tid, v, d, a, e, now, rid)
  redis.call('HSET', key, 'v', v, 'd', d, 'a', a)
  if rid ~= '' then
    redis.call('HSET', key, 'r', rid)
  end
  if e ~= '' then
    redis.call('HSET', key, 'e', e)
    redis.call('PEXPIRE', key, remaining_ms(e, now))
    redis.call('ZADD', base .. 'exp', e, tid)
  else
    redis.call('HDEL', key, 'e')
    redis.call('PERSIST', key)
    redis.call('ZREM', base .. 'exp', tid)
  end
  redis.call('ZADD', base .. 'idx', 0, tid)
  if a == '1' then
    redis.call('ZADD', base .. 'act', e ~= '' and e or '+inf', tid)
  else
    redis.call('ZREM', base .. 'act', tid)
  end
end
