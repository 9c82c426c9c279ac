"""The change feed as TaskStore exposes it: watch, watch_all and wait, on every store.

Synchronisation is by events and tasks only. `GUARD` bounds how long a test
waits for something that must happen; it is never what makes a test pass.
"""

from __future__ import annotations

import asyncio

import pytest
from taskstate_server.domain.errors import TaskNotFound
from taskstate_server.domain.model import TaskPatch, TaskStatus

OWNER = "alice"
GUARD = 10.0


async def nxt(it):
    return await asyncio.wait_for(anext(it), GUARD)


async def drain(it):
    out = []
    while True:
        try:
            out.append(await nxt(it))
        except StopAsyncIteration:
            return out


async def started(gen) -> asyncio.Task:
    """Starts pulling from an async generator and lets it reach its first wait.

    One trip through the event loop runs the new task's first step, which
    registers the watcher synchronously before it blocks; no time passes.
    """
    pull = asyncio.create_task(anext(gen))
    await asyncio.sleep(0)
    assert not pull.done()
    return pull


# -- watch -----------------------------------------------------------------------


async def test_watch_delivers_every_version_to_a_reader_that_keeps_up(store):
    t = await store.create(OWNER)
    it = store.watch(OWNER, t.task_id)
    first = await nxt(it)
    assert first == t
    tid = t.task_id
    steps = [
        lambda: store.set_variables(OWNER, tid, {"a": 1}),
        lambda: store.update_status(OWNER, tid, TaskStatus.INPUT_REQUIRED, "?"),
        lambda: store.update_status(OWNER, tid, TaskStatus.WORKING),
        lambda: store.put_if_version(
            OWNER, tid, 4, TaskPatch(mask=frozenset({"status_message"}), status_message="m")
        ),
        lambda: store.complete(OWNER, tid, status=TaskStatus.COMPLETED, result="done"),
    ]
    for step in steps:
        written = await step()
        assert await nxt(it) == written
    with pytest.raises(StopAsyncIteration):
        await nxt(it)


async def test_watch_from_a_blocked_reader(store):
    t = await store.create(OWNER)
    it = store.watch(OWNER, t.task_id)
    assert (await nxt(it)).version == 1
    pull = await started(it)
    written = await store.set_variables(OWNER, t.task_id, {"x": 1})
    assert await asyncio.wait_for(pull, GUARD) == written


async def test_slow_reader_gets_increasing_versions_ending_with_the_terminal_one(store):
    t = await store.create(OWNER)
    it = store.watch(OWNER, t.task_id)
    assert (await nxt(it)).version == 1
    for i in range(10):
        await store.set_variables(OWNER, t.task_id, {"i": i})
    final = await store.complete(OWNER, t.task_id, status=TaskStatus.FAILED, status_message="x")
    rest = await drain(it)
    versions = [x.version for x in rest]
    assert versions == sorted(set(versions)), versions
    assert rest[-1] == final
    assert all(not x.status.terminal for x in rest[:-1])


async def test_watch_after_version_skips_what_the_client_has(store):
    t = await store.create(OWNER)
    for i in range(3):
        t = await store.set_variables(OWNER, t.task_id, {"i": i})
    assert t.version == 4
    # Reconnecting with an older version: the current task first.
    it = store.watch(OWNER, t.task_id, after_version=2)
    assert await nxt(it) == t
    await it.aclose()
    # Reconnecting with the current version: only what comes next.
    it = store.watch(OWNER, t.task_id, after_version=4)
    pull = await started(it)
    t5 = await store.set_variables(OWNER, t.task_id, {"i": 99})
    assert await asyncio.wait_for(pull, GUARD) == t5
    await it.aclose()


async def test_watch_of_a_terminal_task(store):
    t = await store.create(OWNER)
    done = await store.cancel(OWNER, t.task_id, "stop")
    assert await drain(store.watch(OWNER, t.task_id)) == [done]
    assert await drain(store.watch(OWNER, t.task_id, after_version=done.version)) == []


async def test_deletion_ends_watch_with_not_found(store):
    t = await store.create(OWNER)
    it = store.watch(OWNER, t.task_id)
    await nxt(it)
    pull = await started(it)
    await store.delete(OWNER, t.task_id)
    with pytest.raises(TaskNotFound):
        await asyncio.wait_for(pull, GUARD)


async def test_deletion_while_the_reader_is_away_ends_watch_with_not_found(store):
    t = await store.create(OWNER)
    it = store.watch(OWNER, t.task_id)
    await nxt(it)
    await store.set_variables(OWNER, t.task_id, {"a": 1})
    await store.delete(OWNER, t.task_id)
    got = []
    with pytest.raises(TaskNotFound):
        while True:
            got.append(await nxt(it))
    assert [x.version for x in got] in ([], [2])


async def test_expiry_and_sweep_end_a_blocked_watch_with_not_found(store, clock, sweeping):
    t = await store.create(OWNER, ttl_ms=1000)
    it = store.watch(OWNER, t.task_id)
    await nxt(it)
    pull = await started(it)
    clock.advance(1000)
    assert await store.sweep_expired() == 1
    with pytest.raises(TaskNotFound):
        await asyncio.wait_for(pull, GUARD)


async def test_expiry_ends_watch_even_before_the_sweep(store, clock):
    t = await store.create(OWNER, ttl_ms=1000)
    it = store.watch(OWNER, t.task_id)
    await nxt(it)
    clock.advance(1001)
    with pytest.raises(TaskNotFound):
        await nxt(it)


async def test_watch_of_a_missing_task_is_not_found(store, clock):
    t = await store.create(OWNER, ttl_ms=5)
    clock.advance(5)
    with pytest.raises(TaskNotFound):
        await nxt(store.watch(OWNER, t.task_id))


async def test_watch_renewed_ttl_keeps_the_watch_alive(store, clock):
    t = await store.create(OWNER, ttl_ms=1000)
    it = store.watch(OWNER, t.task_id)
    await nxt(it)
    renewed = await store.put_if_version(
        OWNER, t.task_id, 1, TaskPatch(mask=frozenset({"ttl"}), ttl_ms=60_000)
    )
    assert await nxt(it) == renewed
    clock.advance(5000)  # past the old expiry, well before the new one
    pull = await started(it)
    t3 = await store.set_variables(OWNER, t.task_id, {"still": "here"})
    assert await asyncio.wait_for(pull, GUARD) == t3


# -- watch_all ---------------------------------------------------------------------


async def watch_tasks(store, owner=OWNER, **kw):
    """The tasks of `store.watch_all`'s WRITE messages (the whole pre-event-log stream)."""
    stream = await store.watch_all(owner, **kw)

    async def tasks():
        try:
            async for message in stream:
                assert message.task is not None
                yield message.task
        finally:
            stream.close()

    return tasks()


async def test_watch_all_sees_creates_and_updates_of_the_owner_only(store):
    gen = await watch_tasks(store)
    pull = await started(gen)
    await store.create("bob")
    a = await store.create(OWNER)
    assert await asyncio.wait_for(pull, GUARD) == a
    a2 = await store.set_variables(OWNER, a.task_id, {"x": 1})
    assert await nxt(gen) == a2
    await store.create("bob")
    b = await store.create(OWNER)
    assert await nxt(gen) == b
    await gen.aclose()


async def test_watch_all_is_registered_when_it_returns(store):
    # docs/design.md §5.13: open the watch, then list; nothing committed after opening is missed.
    watch = await watch_tasks(store)
    created = await store.create(OWNER)
    assert await nxt(watch) == created
    await watch.aclose()


async def test_watch_all_per_task_versions_only_increase(store):
    gen = await watch_tasks(store)
    pull = await started(gen)
    tasks = [await store.create(OWNER) for _ in range(3)]
    finals = {}
    for i in range(4):
        for t in tasks:
            finals[t.task_id] = await store.set_variables(OWNER, t.task_id, {"i": i})
    for t in tasks:
        finals[t.task_id] = await store.complete(OWNER, t.task_id, status=TaskStatus.COMPLETED)
    target = {k: v.version for k, v in finals.items()}
    last: dict[str, int] = {}
    task = await asyncio.wait_for(pull, GUARD)
    while True:
        assert task.version > last.get(task.task_id, 0), "a version went backwards"
        last[task.task_id] = task.version
        if task.status.terminal:
            assert task == finals[task.task_id]
        if last == target:
            break
        task = await nxt(gen)
    await gen.aclose()


async def test_watch_all_status_filter_and_no_deletions(store):
    gen = await watch_tasks(store, statuses={TaskStatus.COMPLETED})
    pull = await started(gen)
    a = await store.create(OWNER)
    b = await store.create(OWNER)
    await store.update_status(OWNER, a.task_id, TaskStatus.INPUT_REQUIRED)
    await store.delete(OWNER, b.task_id)
    done = await store.complete(OWNER, a.task_id, status=TaskStatus.COMPLETED)
    assert await asyncio.wait_for(pull, GUARD) == done
    await gen.aclose()


# -- wait --------------------------------------------------------------------------


async def test_wait_returns_at_once_for_a_terminal_task(store):
    t = await store.create(OWNER)
    done = await store.complete(OWNER, t.task_id, status=TaskStatus.COMPLETED, result=1)
    assert await store.wait(OWNER, t.task_id, timeout_s=GUARD) == done


async def test_wait_with_zero_timeout_returns_the_current_task(store):
    t = await store.create(OWNER)
    assert await store.wait(OWNER, t.task_id, timeout_s=0) == t


async def test_wait_times_out_with_the_current_task(store):
    t = await store.create(OWNER)
    t = await store.set_variables(OWNER, t.task_id, {"a": 1})
    # The timeout is what is under test here, so a short real one is used.
    assert await store.wait(OWNER, t.task_id, timeout_s=0.05) == t


async def test_wait_wakes_on_completion(store):
    t = await store.create(OWNER)
    waiter = asyncio.create_task(store.wait(OWNER, t.task_id, timeout_s=GUARD * 2))
    await asyncio.sleep(0)  # let the waiter start (it is correct either way)
    await store.set_variables(OWNER, t.task_id, {"progress": 1})
    done = await store.complete(OWNER, t.task_id, status=TaskStatus.COMPLETED, result="r")
    assert await asyncio.wait_for(waiter, GUARD) == done


async def test_wait_for_chosen_statuses(store):
    t = await store.create(OWNER)
    waiter = asyncio.create_task(
        store.wait(OWNER, t.task_id, timeout_s=GUARD * 2, statuses={TaskStatus.INPUT_REQUIRED})
    )
    await asyncio.sleep(0)
    asked = await store.update_status(OWNER, t.task_id, TaskStatus.INPUT_REQUIRED, "name?")
    assert await asyncio.wait_for(waiter, GUARD) == asked


async def test_wait_ends_with_not_found_on_deletion(store):
    t = await store.create(OWNER)
    waiter = asyncio.create_task(store.wait(OWNER, t.task_id, timeout_s=GUARD * 2))
    await asyncio.sleep(0)
    await store.delete(OWNER, t.task_id)
    with pytest.raises(TaskNotFound):
        await asyncio.wait_for(waiter, GUARD)


async def test_wait_ends_with_not_found_on_expiry(store, clock):
    t = await store.create(OWNER, ttl_ms=1000)
    waiter = asyncio.create_task(store.wait(OWNER, t.task_id, timeout_s=GUARD * 2))
    await asyncio.sleep(0)
    clock.advance(1000)
    await store.sweep_expired()
    with pytest.raises(TaskNotFound):
        await asyncio.wait_for(waiter, GUARD)


# -- across replicas -------------------------------------------------------------


async def test_watch_sees_commits_of_another_replica(make_store, feed_shared_database):
    a = await make_store(database=feed_shared_database)
    b = await make_store(database=feed_shared_database)
    t = await a.create(OWNER)
    it = a.watch(OWNER, t.task_id)
    assert await nxt(it) == t
    done = await b.complete(OWNER, t.task_id, status=TaskStatus.COMPLETED)
    assert await nxt(it) == done
    gen = await watch_tasks(a)
    pull = await started(gen)
    created = await b.create(OWNER)
    assert await asyncio.wait_for(pull, GUARD) == created
    await gen.aclose()
