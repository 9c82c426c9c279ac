-- KEYS: the owner index (P{O}:idx)
-- ARGV: base, upper bound ('+' for all, '(' .. before_task_id for a page), limit, now
-- -> {task_id, {v, d, a, e, s, l, g}, ...} newest first, only unexpired records
-- (Never pruned here: the sweeper logs the expiry of what the index still holds.)
return page_records(KEYS[1], ARGV[1], ARGV[2], true, tonumber(ARGV[3]), tonumber(ARGV[4]), false)
