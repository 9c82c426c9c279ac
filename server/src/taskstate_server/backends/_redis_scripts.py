"""Lua scripts of the Redis backend: each mutation is ONE atomic server-side step.

Key layout (P = the URL's prefix, O = the owner, escaped so it holds no braces):

    P{O}:t:<task_id>   HASH  v=version d=data a=active(1|0) [e=expire_at_ms] [r=request_id]
                             with PEXPIRE (e - now), so Redis deletes it by itself
    P{O}:idx           ZSET  every task id, score 0: the ordered owner index (BYLEX)
    P{O}:act           ZSET  active task ids scored by expire_at_ms (+inf = never): the quota
    P{O}:exp           ZSET  expiring task ids scored by expire_at_ms: index hygiene, deletions
    P{O}:req:<rid>     STRING  task id created with request id <rid>, with the task's expiry
    Pchanges           pub/sub channel of every committed change

Every key of one owner shares the hash tag {O}, so every script touches one cluster slot. Scripts
derive a few keys of the same owner from ARGV[1] (the `P{O}:` base) rather than KEYS, which Redis
allows for keys in the slot of the declared ones.

A change message is six length-prefixed fields, `<len>:<bytes>` each: owner, task id, version
("" for a deletion), active, expire_at_ms ("" for none) and the record's data.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Final


@dataclass(frozen=True)
class LuaScript:
    name: str
    source: str
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha", hashlib.sha1(self.source.encode()).hexdigest())


# Helpers shared by the scripts. `base` is the owner's key prefix `P{O}:`.
_PRELUDE: Final = r"""
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
"""

# KEYS: record, request-id key (the record key again when there is no request id)
# ARGV: base, owner, task_id, version, data, active, expire_at|'', now, max_active,
#       request_id|'', channel
# -> {'created'} | {'exists', task_id, v, d, a, e|''} | {'quota'}
CREATE: Final = LuaScript(
    "create",
    _PRELUDE
    + r"""
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
""",
)

# KEYS: record
# ARGV: base, owner, task_id, expected_version, version, data, active, expire_at|'', now, channel
# -> {'ok'} | {'missing'} | {'conflict', actual_version}
COMPARE_AND_SWAP: Final = LuaScript(
    "compare_and_swap",
    _PRELUDE
    + r"""
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
""",
)

# KEYS: record
# ARGV: base, owner, task_id, now, channel
# -> 1 (deleted) | 0 (no unexpired record)
DELETE: Final = LuaScript(
    "delete",
    _PRELUDE
    + r"""
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
""",
)

# KEYS: the owner's expiry index (P{O}:exp)
# ARGV: base, owner, now, limit, channel
# -> {purged, examined}
SWEEP: Final = LuaScript(
    "sweep",
    _PRELUDE
    + r"""
return purge_expired(ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5])
""",
)

# KEYS: the owner index (P{O}:idx)
# ARGV: base, upper bound ('+' for all, '(' .. before_task_id for a page), limit, now
# -> flat {task_id, v, d, a, e|'', ...} newest first, only unexpired records
LIST: Final = LuaScript(
    "list",
    r"""
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
""",
)

ALL: Final = (CREATE, COMPARE_AND_SWAP, DELETE, SWEEP, LIST)
