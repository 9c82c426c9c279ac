"""Subject scoping (issue 11) through TaskStore, on every store: a call under a subject sees
only that subject's tasks, in reads, writes, lists, watches and claims; another subject's
task (or a subject-less one) is indistinguishable from a missing task. A call without a
subject sees every task of its owner."""

from __future__ import annotations

import asyncio

import pytest
from taskstate_server.domain.errors import InvalidArgument, TaskNotFound
from taskstate_server.domain.model import LeasePolicy, Limits, TaskPatch, TaskStatus
from taskstate_server.domain.watch import FeedKind

OWNER = "alice"
GUARD = 10.0
A, B = "user-a", "user-b"
W, D, X = FeedKind.WRITE, FeedKind.DELETED, FeedKind.EXPIRED
MANY = Limits(max_active_tasks=1000)


async def nxt(stream):
    return await asyncio.wait_for(anext(stream), GUARD)


async def test_create_records_the_subject_and_unscoped_calls_see_everything(store):
    a = await store.create(OWNER, subject=A)
    none = await store.create(OWNER)
    assert (a.subject, none.subject) == (A, "")
    assert await store.get(OWNER, a.task_id) == a
    assert await store.get(OWNER, a.task_id, subject=A) == a
    listed = await store.list(OWNER)
    assert {t.task_id for t in listed.tasks} == {a.task_id, none.task_id}


@pytest.mark.parametrize("bad", ["", "x" * 257, "tab\there", "é", "new\nline"])
async def test_a_malformed_subject_is_invalid(store, bad):
    with pytest.raises(InvalidArgument):
        await store.create(OWNER, subject=bad)
    t = await store.create(OWNER)
    with pytest.raises(InvalidArgument):
        await store.get(OWNER, t.task_id, subject=bad)
    with pytest.raises(InvalidArgument):
        await store.list(OWNER, subject=bad)


def _every_call(store, tid, subject):
    """Each call that names a task, under `subject`, as a coroutine factory."""
    patch = TaskPatch(mask=frozenset({"status_message"}), status_message="m")
    return [
        lambda: store.get(OWNER, tid, subject=subject),
        lambda: store.update_status(OWNER, tid, TaskStatus.INPUT_REQUIRED, subject=subject),
        lambda: store.set_variables(OWNER, tid, {"x": 1}, subject=subject),
        lambda: store.put_if_version(OWNER, tid, 1, patch, subject=subject),
        lambda: store.complete(OWNER, tid, status=TaskStatus.COMPLETED, subject=subject),
        lambda: store.cancel(OWNER, tid, subject=subject),
        lambda: store.provide_input(OWNER, tid, {"k": 1}, subject=subject),
        lambda: store.request_cancel(OWNER, tid, subject=subject),
        lambda: store.wait(OWNER, tid, timeout_s=0, subject=subject),
        lambda: anext(store.watch(OWNER, tid, subject=subject)),
        lambda: store.delete(OWNER, tid, subject=subject),
    ]


async def test_another_subjects_task_is_not_found_by_any_call(store):
    a = await store.create(OWNER, subject=A)
    plain = await store.create(OWNER)
    for subject, task in ((B, a), (A, plain)):
        for call in _every_call(store, task.task_id, subject):
            with pytest.raises(TaskNotFound):
                await call()
        assert await store.get(OWNER, task.task_id) == task  # nothing was written


async def test_the_own_subject_reads_and_writes(store):
    a = await store.create(OWNER, subject=A)
    moved = await store.set_variables(OWNER, a.task_id, {"x": 1}, subject=A)
    assert (moved.version, moved.subject) == (2, A)
    done = await store.complete(OWNER, a.task_id, status=TaskStatus.COMPLETED, subject=A)
    assert done.subject == A
    await store.delete(OWNER, a.task_id, subject=A)
    with pytest.raises(TaskNotFound):
        await store.get(OWNER, a.task_id)


async def test_list_pages_hold_only_the_subjects_tasks_with_mixed_subjects(make_store):
    store = await make_store(limits=MANY)
    mine = []
    for i in range(30):
        subject = A if i % 5 == 0 else B if i % 5 == 1 else None
        t = await store.create(OWNER, subject=subject)
        if subject == A:
            mine.append(t.task_id)
    for size in (1, 2, 4, 50):
        seen, token = [], ""
        while True:
            page = await store.list(OWNER, page_size=size, page_token=token, subject=A)
            assert page.tasks, "a page holds a task while any is left"
            assert all(t.subject == A for t in page.tasks)
            seen.extend(t.task_id for t in page.tasks)
            token = page.next_page_token
            if not token:
                break
        assert seen == sorted(mine, reverse=True)
    empty = await store.list(OWNER, subject="nobody")
    assert (empty.tasks, empty.next_page_token) == ([], "")


async def test_list_by_status_is_scoped_too(make_store):
    store = await make_store(limits=MANY)
    a = await store.create(OWNER, subject=A)
    b = await store.create(OWNER, subject=B)
    for t, subject in ((a, A), (b, B)):
        await store.update_status(OWNER, t.task_id, TaskStatus.INPUT_REQUIRED, subject=subject)
    page = await store.list(OWNER, statuses=[TaskStatus.INPUT_REQUIRED], subject=B)
    assert [t.task_id for t in page.tasks] == [b.task_id]


async def test_request_id_is_scoped_to_owner_and_subject(store):
    a1 = await store.create(OWNER, request_id="r", subject=A)
    a2 = await store.create(OWNER, request_id="r", subject=A)
    b = await store.create(OWNER, request_id="r", subject=B)
    plain = await store.create(OWNER, request_id="r")
    plain2 = await store.create(OWNER, request_id="r")
    assert a1 == a2 and plain == plain2
    assert len({a1.task_id, b.task_id, plain.task_id}) == 3
    assert (b.subject, plain.subject, plain.request_id) == (B, "", "r")


async def test_watch_all_shows_a_subject_only_its_writes(store):
    async with await store.watch_all(OWNER, subject=A) as stream:
        await store.create(OWNER, subject=B)
        await store.create(OWNER)
        a = await store.create(OWNER, subject=A)
        m = await nxt(stream)
        assert (m.kind, m.task_id, m.task) == (W, a.task_id, a)


async def test_watch_all_shows_a_subject_only_its_removals(store, clock, event_log, sweeping):
    async with (
        await store.watch_all(OWNER, subject=A, all_events=True) as scoped,
        await store.watch_all(OWNER, all_events=True) as everything,
    ):
        b_gone = await store.create(OWNER, subject=B)
        b_old = await store.create(OWNER, subject=B, ttl_ms=1000)
        plain = await store.create(OWNER, ttl_ms=1000)
        a_gone = await store.create(OWNER, subject=A)
        a_old = await store.create(OWNER, subject=A, ttl_ms=1000)
        await store.delete(OWNER, b_gone.task_id)
        await store.delete(OWNER, a_gone.task_id)
        clock.advance(1000)
        assert await store.sweep_expired() == 3
        marker = await store.create(OWNER, subject=A)
        got = []
        while True:
            m = await nxt(scoped)
            if m.task_id == marker.task_id:
                break
            got.append((m.kind, m.task_id))
        # (A lagging reader's writes of a removed task are coalesced away.)
        assert {tid for kind, tid in got if kind is W} <= {a_gone.task_id, a_old.task_id}
        assert [m for m in got if m[0] is not W] == [(D, a_gone.task_id), (X, a_old.task_id)]
        # The unscoped stream sees every removal.
        removed = set()
        while True:
            m = await nxt(everything)
            if m.task_id == marker.task_id:
                break
            if m.kind in (D, X):
                removed.add(m.task_id)
        assert removed == {
            b_gone.task_id,
            b_old.task_id,
            plain.task_id,
            a_gone.task_id,
            a_old.task_id,
        }


async def test_resumed_watch_is_scoped(store, event_log):
    async with await store.watch_all(OWNER, subject=A, all_events=True) as stream:
        first = await store.create(OWNER, subject=A)
        m = await nxt(stream)
        cursor = m.cursor
        assert m.task_id == first.task_id
    b = await store.create(OWNER, subject=B)
    await store.delete(OWNER, b.task_id)
    a = await store.create(OWNER, subject=A)
    async with await store.watch_all(OWNER, subject=A, resume_cursor=cursor) as stream:
        m = await nxt(stream)
        assert (m.kind, m.task_id) == (W, a.task_id)


async def test_claim_next_takes_only_the_subjects_tasks(make_store, indexed):
    store = await make_store(limits=MANY)
    # More other-subject tasks than one claim batch reads, all older than A's.
    for _ in range(40):
        await store.create(OWNER, subject=B, lease_policy=LeasePolicy.FAIL)
    a = await store.create(OWNER, subject=A, lease_policy=LeasePolicy.FAIL)
    got = await store.claim(OWNER, worker_id="w", subject=A)
    assert got is not None and got.task_id == a.task_id
    assert await store.claim(OWNER, worker_id="w", subject=A) is None
    assert await store.claim(OWNER, worker_id="w", subject="nobody") is None
    other = await store.claim(OWNER, worker_id="w")
    assert other is not None and other.subject == B


async def test_claim_by_id_and_renew_are_scoped(store, indexed):
    a = await store.create(OWNER, subject=A, lease_policy=LeasePolicy.FAIL)
    with pytest.raises(TaskNotFound):
        await store.claim(OWNER, worker_id="w", task_id=a.task_id, subject=B)
    claimed = await store.claim(OWNER, worker_id="w", task_id=a.task_id, subject=A)
    assert claimed is not None and claimed.lease is not None
    token = claimed.lease.token
    with pytest.raises(TaskNotFound):
        await store.renew(OWNER, a.task_id, fencing_token=token, subject=B)
    renewed = await store.renew(OWNER, a.task_id, fencing_token=token, subject=A)
    assert renewed.version == claimed.version + 1


async def test_a_waiting_claim_wakes_for_its_subject_only(store, indexed):
    waiting = asyncio.create_task(store.claim(OWNER, worker_id="w", subject=A, wait_s=GUARD))
    await asyncio.sleep(0)
    await store.create(OWNER, subject=B, lease_policy=LeasePolicy.FAIL)
    a = await store.create(OWNER, subject=A, lease_policy=LeasePolicy.FAIL)
    got = await asyncio.wait_for(waiting, GUARD)
    assert got is not None and got.task_id == a.task_id


async def test_records_without_the_new_fields_decode_with_defaults():
    from taskstate_server.domain import records

    t = records.decode(
        b'{"create_time":1,"expire_time":null,"owner":"o","poll_interval":1000,'
        b'"request_method":"","status":"working","status_message":"","task_id":"t",'
        b'"ttl":null,"update_time":1,"variables":{},"version":1}'
    )
    assert (t.subject, t.input_requests, t.input_responses, t.cancel_requested) == (
        "",
        {},
        {},
        False,
    )
    assert records.decode(records.encode(t)) == t
    assert b"subject" not in records.encode(t)  # an old task keeps its bytes
