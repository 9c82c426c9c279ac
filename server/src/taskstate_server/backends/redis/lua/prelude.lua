-- Helpers the scripts share (prepended to every script). `c` is a write's context (`ctx`):
-- c.base is the owner's key prefix `P{O}:`, c.tag the owner's hash tag `{O}`.

-- The context of a write: ARGV[1..8] of every owner script (see scripts.py).
local function ctx(prefix, tag, owner, now, channel, epoch, keep, grace)
  return {
    prefix = prefix, tag = tag, base = prefix .. tag .. ':', owner = owner,
    now = tonumber(now), now_s = now, channel = channel, epoch = epoch,
    keep = tonumber(keep), grace = tonumber(grace),
  }
end

local function argv_ctx()
  return ctx(ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8])
end

-- The owner in a hash tag `{O}`, unescaped (the inverse of the backend's _escape_owner).
local function tag_owner(tag)
  local o = string.sub(tag, 2, -2)
  if o == '%' then
    return ''
  end
  o = string.gsub(o, '%%7D', '}')
  o = string.gsub(o, '%%7B', '{')
  o = string.gsub(o, '%%25', '%%')
  return o
end

-- Milliseconds the key of a record expiring at `e` lives by the caller's clock: the time
-- left plus the grace in which the sweeper removes it (and logs EXPIRED); at least 1, so a
-- key never vanishes mid-script.
local function key_ttl(c, e)
  return math.max(tonumber(e) - c.now + c.grace, 1)
end

-- Stream positions `ms-seq`: {ms, seq}, or nil when `p` is not one we could have made.
local function pos_parse(p)
  local ms, seq = string.match(p, '^(%d+)%-(%d+)$')
  if not ms or #ms > 15 or #seq > 15 then
    return nil
  end
  if (#ms > 1 and string.sub(ms, 1, 1) == '0') or (#seq > 1 and string.sub(seq, 1, 1) == '0') then
    return nil
  end
  return {tonumber(ms), tonumber(seq)}
end

local function pos_lt(a, b)
  return a[1] < b[1] or (a[1] == b[1] and a[2] < b[2])
end

local function lp(s)
  return string.len(s) .. ':' .. s
end

-- Appends an event to the owner's log (stream `ev`, its metadata hash `evm`: epoch, last,
-- low). The position is the caller's clock, kept increasing (never before `last`), so
-- trimming follows the caller's clock like expiry does. Entries older than `keep` are
-- trimmed (MINID ~); `low` becomes the newest entry that may be gone, so a reader at or
-- after it misses nothing. `u`: a removed task's subject ('' for none, and for writes).
-- Returns position, prev.
local function log_event(c, kind, tid, v, u)
  local evm, ev = c.base .. 'evm', c.base .. 'ev'
  local m = redis.call('HMGET', evm, 'epoch', 'last', 'low')
  local prev = m[2] or '0-0'
  local last = pos_parse(prev)
  local ms, seq = c.now, 0
  if ms <= last[1] then
    ms, seq = last[1], last[2] + 1
  end
  local position = string.format('%d-%d', ms, seq)
  local meta = {'last', position}
  if not m[1] then
    meta[#meta + 1] = 'epoch'
    meta[#meta + 1] = c.epoch
  end
  local fields = {'k', kind, 't', tid, 'v', v, 'ms', c.now_s}
  if u ~= '' then
    fields[#fields + 1] = 'u'
    fields[#fields + 1] = u
  end
  local cutoff = c.now - c.keep
  local oldest = cutoff > 0 and redis.call('XRANGE', ev, '-', '+', 'COUNT', 1)[1]
  if oldest and pos_parse(oldest[1])[1] < cutoff then
    -- Only now the reverse seek: XREVRANGE from below a stream's first entry walks the
    -- whole stream, which would make every write cost the length of the owner's log.
    local older = redis.call('XREVRANGE', ev, string.format('(%d-0', cutoff), '-', 'COUNT', 1)
    if older[1] and pos_lt(pos_parse(m[3] or '0-0'), pos_parse(older[1][1])) then
      meta[#meta + 1] = 'low'
      meta[#meta + 1] = older[1][1]
    end
    redis.call('XADD', ev, 'MINID', '~', cutoff, position, unpack(fields))
  else
    redis.call('XADD', ev, position, unpack(fields))
  end
  redis.call('HSET', evm, unpack(meta))
  return position, prev
end

-- Logs the change and publishes it: ten length-prefixed fields (see scripts.py). A removal
-- (d|x) has no data: `d` is then the removed task's subject.
local function commit(c, tid, kind, v, a, e, d)
  local position, prev = log_event(c, kind, tid, v, kind == 'w' and '' or d)
  redis.call('PUBLISH', c.channel,
    lp(c.owner) .. lp(tid) .. lp(kind) .. lp(v) .. lp(a) .. lp(e) .. lp(d)
    .. lp(position) .. lp(prev) .. lp(c.now_s))
end

-- Moves task `tid` in the fact indexes from the `old` facts to the `new` ones ({s, g, l, e},
-- '' = none): status set, claim sets, the global lease and expiry sets.
local function reindex(c, tid, old, new)
  local b, member = c.base, c.tag .. ':' .. tid
  if old.s ~= new.s then
    if old.s ~= '' then
      redis.call('ZREM', b .. 's:' .. old.s, tid)
    end
    if new.s ~= '' then
      redis.call('ZADD', b .. 's:' .. new.s, 0, tid)
    end
  end
  if old.g ~= new.g then
    if old.g ~= '' then
      redis.call('ZREM', b .. 'claim:' .. old.g, tid)
    end
    if new.g ~= '' then
      redis.call('ZADD', b .. 'claim:' .. new.g, 0, tid)
      redis.call('ZADD', b .. 'claim', 0, tid)
    else
      redis.call('ZREM', b .. 'claim', tid)
    end
  end
  if old.l ~= new.l then
    if new.l ~= '' then
      redis.call('ZADD', c.prefix .. 'leases', new.l, member)
    else
      redis.call('ZREM', c.prefix .. 'leases', member)
    end
  end
  if old.e ~= new.e then
    if new.e ~= '' then
      redis.call('ZADD', c.prefix .. 'expiring', new.e, member)
    else
      redis.call('ZREM', c.prefix .. 'expiring', member)
    end
  end
end

local NO_FACTS = {s = '', g = '', l = '', e = ''}

-- The subject inside a record's JSON (TaskStore's `subject` key), '' when none or unknown
-- (the record already gone): what a removal's log entry names.
local function record_subject(d)
  if not d then
    return ''
  end
  local ok, obj = pcall(cjson.decode, d)
  if ok and type(obj) == 'table' and type(obj.subject) == 'string' then
    return obj.subject
  end
  return ''
end

-- Removes every trace of task `tid`; logs and publishes `kind` (DELETED or EXPIRED, with the
-- last version, 0 if the record is gone already) if it was indexed. Returns 1 if it was.
local function purge(c, tid, kind)
  local key = c.base .. 't:' .. tid
  local f = redis.call('HMGET', key, 'v', 'r', 's', 'g', 'd')
  if f[2] then
    local rkey = c.base .. 'req:' .. f[2]
    if redis.call('GET', rkey) == tid then
      redis.call('DEL', rkey)
    end
  end
  redis.call('DEL', key)
  redis.call('ZREM', c.base .. 'act', tid)
  reindex(c, tid, {s = f[3] or '', g = f[4] or '', l = '', e = ''}, NO_FACTS)
  -- The global sets by member, also when the record (with its facts) is gone already.
  local member = c.tag .. ':' .. tid
  redis.call('ZREM', c.prefix .. 'leases', member)
  redis.call('ZREM', c.prefix .. 'expiring', member)
  if redis.call('ZREM', c.base .. 'idx', tid) == 1 then
    commit(c, tid, kind, f[1] or '0', '', '', record_subject(f[5]))
    return 1
  end
  return 0
end

-- Writes the record's hash (`r`: its request id, '' to keep the stored one), its key expiry
-- and every index but the request id key; `old` holds the facts last written ({s, g, l, e}).
local function write_record(c, key, tid, r, old, rid)
  local set, del = {'v', r.v, 'd', r.d, 'a', r.a}, {}
  if rid ~= '' then
    set[#set + 1] = 'r'
    set[#set + 1] = rid
  end
  for _, name in ipairs({'e', 's', 'l', 'g'}) do
    if r[name] ~= '' then
      set[#set + 1] = name
      set[#set + 1] = r[name]
    else
      del[#del + 1] = name
    end
  end
  redis.call('HSET', key, unpack(set))
  if #del > 0 then
    redis.call('HDEL', key, unpack(del))
  end
  if r.e ~= '' then
    redis.call('PEXPIRE', key, key_ttl(c, r.e))
  else
    redis.call('PERSIST', key)
  end
  redis.call('ZADD', c.base .. 'idx', 0, tid)
  if r.a == '1' then
    redis.call('ZADD', c.base .. 'act', r.e ~= '' and r.e or '+inf', tid)
  else
    redis.call('ZREM', c.base .. 'act', tid)
  end
  reindex(c, tid, old, r)
end

-- The record of `tid` as scripts return it: {v, d, a, e, s, l, g} (false = absent), or nil
-- when it is missing or expired at `now`.
local function read_record(base, tid, now)
  local f = redis.call('HMGET', base .. 't:' .. tid, 'v', 'd', 'a', 'e', 's', 'l', 'g')
  if not f[1] or (f[4] and tonumber(f[4]) <= now) then
    return nil, f[1]
  end
  return f
end

-- Byte order (what BYLEX uses): Lua's own string order follows the server's locale.
local function lex_lt(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then
      return x < y
    end
  end
  return #a < #b
end

-- Up to `limit` unexpired records of the ids of BYLEX set `key`, from the bound `from`,
-- descending (`rev`) or ascending: {task_id, {v, d, a, e, s, l, g}, ...}. With `prune`, ids
-- whose record Redis deleted (no sweep within the grace) leave the set.
local function page_records(key, base, from, rev, limit, now, prune)
  local out, n = {}, 0
  local batch = limit + 16
  while n < limit do
    local ids
    if rev then
      ids = redis.call('ZRANGE', key, from, '-', 'BYLEX', 'REV', 'LIMIT', 0, batch)
    else
      ids = redis.call('ZRANGE', key, from, '+', 'BYLEX', 'LIMIT', 0, batch)
    end
    for _, tid in ipairs(ids) do
      local f, present = read_record(base, tid, now)
      if f then
        out[#out + 1] = tid
        out[#out + 1] = f
        n = n + 1
        if n >= limit then
          break
        end
      elseif prune and not present then
        redis.call('ZREM', key, tid)
      end
    end
    if #ids < batch then
      break
    end
    from = '(' .. ids[#ids]
  end
  return out
end
