"""ListTasks through the store: order, page sizes, keyset tokens, filters, owners."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from _proxies import Counting
from taskstate_server.domain.errors import InvalidArgument, TaskNotFound
from taskstate_server.domain.model import Limits, TaskPatch, TaskStatus
from taskstate_server.transport.errors import reason_for

OWNER = "alice"
MANY = Limits(max_active_tasks=5000)


async def _walk(store, owner=OWNER, *, page_size, statuses=(), between=None):
    """Every page of a listing; `between(page_no)` runs before each later page."""
    seen, pages, token = [], 0, ""
    while True:
        page = await store.list(owner, page_size=page_size, page_token=token, statuses=statuses)
        assert len(page.tasks) <= page_size
        seen.extend(page.tasks)
        pages += 1
        token = page.next_page_token
        if not token:
            return seen, pages
        assert len(page.tasks) == page_size  # only the last page may be short
        if between is not None:
            await between(pages)


async def test_newest_first_within_one_millisecond(store):
    # The fake clock does not move: order must still be creation order (UUIDv7 counter).
    created = [await store.create(OWNER) for _ in range(12)]
    page = await store.list(OWNER)
    assert [t.task_id for t in page.tasks] == [t.task_id for t in reversed(created)]
    assert page.next_page_token == ""


async def test_newest_first_across_milliseconds_ties_by_task_id(store, clock):
    created = []
    for i in range(15):
        created.append(await store.create(OWNER))
        if i % 3 == 2:
            clock.advance(1)
    listed = (await store.list(OWNER)).tasks
    assert [t.task_id for t in listed] == [t.task_id for t in reversed(created)]
    keys = [(t.create_time_ms, t.task_id) for t in listed]
    assert keys == sorted(keys, reverse=True)


async def test_listed_tasks_are_the_current_versions(store):
    t = await store.create(OWNER)
    t = await store.set_variables(OWNER, t.task_id, {"a": [1, 2]})
    assert (await store.list(OWNER)).tasks == [t]


async def test_empty_listing(store):
    page = await store.list("nobody")
    assert (page.tasks, page.next_page_token) == ([], "")


async def test_default_page_size_is_50(make_store):
    store = await make_store(MANY)
    created = [await store.create(OWNER) for _ in range(51)]
    first = await store.list(OWNER)
    assert len(first.tasks) == 50
    assert first.next_page_token
    second = await store.list(OWNER, page_token=first.next_page_token)
    assert [t.task_id for t in second.tasks] == [created[0].task_id]
    assert second.next_page_token == ""


async def test_exact_page_has_no_next_token(make_store):
    store = await make_store(MANY)
    for _ in range(10):
        await store.create(OWNER)
    page = await store.list(OWNER, page_size=10)
    assert len(page.tasks) == 10
    assert page.next_page_token == ""


@pytest.mark.slow
async def test_page_size_is_capped_at_1000(make_store):
    store = await make_store(MANY)
    created = [await store.create(OWNER) for _ in range(1001)]
    page = await store.list(OWNER, page_size=5000)
    assert len(page.tasks) == 1000
    assert page.next_page_token
    rest = await store.list(OWNER, page_size=5000, page_token=page.next_page_token)
    assert [t.task_id for t in rest.tasks] == [created[0].task_id]
    assert rest.next_page_token == ""


async def test_negative_page_size_is_invalid(store):
    with pytest.raises(InvalidArgument):
        await store.list(OWNER, page_size=-1)


@pytest.mark.parametrize("page_size", [1, 4, 7, 23, 24])
async def test_tokens_walk_every_task_exactly_once(make_store, page_size):
    store = await make_store(MANY)
    created = [await store.create(OWNER) for _ in range(23)]
    seen, _ = await _walk(store, page_size=page_size)
    assert [t.task_id for t in seen] == [t.task_id for t in reversed(created)]


async def test_tokens_stay_valid_while_tasks_are_created_between_pages(make_store, clock):
    store = await make_store(MANY)
    before = [await store.create(OWNER) for _ in range(20)]
    added = []

    async def create_more(page_no: int) -> None:
        for _ in range(3):
            added.append(await store.create(OWNER))
        clock.advance(1)

    seen, pages = await _walk(store, page_size=6, between=create_more)
    assert pages == 4
    assert [t.task_id for t in seen] == [t.task_id for t in reversed(before)]
    assert len(added) == 9
    # A fresh walk sees everything, the newcomers first.
    everything, _ = await _walk(store, page_size=6)
    assert [t.task_id for t in everything] == [t.task_id for t in reversed(before + added)]


async def test_tokens_walk_exactly_once_under_concurrent_creates(make_store):
    store = await make_store(MANY, interleave=True)
    before = {(await store.create(OWNER)).task_id for _ in range(40)}
    stop = asyncio.Event()
    added: list[str] = []

    async def creator() -> None:
        while not stop.is_set():
            added.append((await store.create(OWNER)).task_id)

    after_page_1: list[int] = []

    async def walker():
        async def mark(page_no: int) -> None:
            if page_no == 1:
                after_page_1.append(len(added))

        try:
            return await _walk(store, page_size=3, between=mark)
        finally:
            stop.set()

    (seen, _), _ = await asyncio.gather(walker(), creator())
    ids = [t.task_id for t in seen]
    assert len(ids) == len(set(ids)), "a task was listed twice"
    assert set(ids) >= before, "a task that existed before the walk was lost"
    assert added, "the creator never ran concurrently with the walk"
    # Page 1 is a snapshot: a task whose create began after it was read never shows up
    # (added[n] may have been in flight). How many came before page 1 depends on the
    # store's speed: those may also fill later pages, in order.
    (n,) = after_page_1
    assert not set(ids) & set(added[n + 1 :]), "a task created after page 1 was listed"
    # Each page is keyset-after the previous one: nothing newer than page 1 shows up later.
    assert ids == sorted(ids, reverse=True)


async def test_deleting_between_pages_loses_nothing_else(make_store):
    store = await make_store(MANY)
    created = [await store.create(OWNER) for _ in range(10)]
    page = await store.list(OWNER, page_size=4)
    # Delete the task the token points just after, and one further down.
    await store.delete(OWNER, page.tasks[-1].task_id)
    await store.delete(OWNER, created[2].task_id)
    rest, _ = await _walk_from(store, page.next_page_token, 4)
    expected = [t.task_id for t in reversed(created[:6]) if t.task_id != created[2].task_id]
    assert [t.task_id for t in rest] == expected


async def _walk_from(store, token, page_size, statuses=()):
    out, pages = [], 0
    while token:
        page = await store.list(OWNER, page_size=page_size, page_token=token, statuses=statuses)
        out.extend(page.tasks)
        token = page.next_page_token
        pages += 1
    return out, pages


async def _mixed(store, n: int):
    """n tasks cycling through working, input_required, completed, failed, cancelled."""
    tasks = []
    for i in range(n):
        t = await store.create(OWNER)
        match i % 5:
            case 1:
                t = await store.update_status(OWNER, t.task_id, TaskStatus.INPUT_REQUIRED)
            case 2:
                t = await store.complete(OWNER, t.task_id, status=TaskStatus.COMPLETED)
            case 3:
                t = await store.complete(OWNER, t.task_id, status=TaskStatus.FAILED)
            case 4:
                t = await store.cancel(OWNER, t.task_id)
        tasks.append(t)
    return tasks


@pytest.mark.parametrize(
    "statuses",
    [
        {TaskStatus.WORKING},
        {TaskStatus.INPUT_REQUIRED},
        {TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED},
        {TaskStatus.WORKING, TaskStatus.CANCELLED},
    ],
    ids=["working", "input", "terminal", "working+cancelled"],
)
async def test_status_filter(make_store, statuses):
    store = await make_store(MANY)
    tasks = await _mixed(store, 20)
    expected = [t.task_id for t in reversed(tasks) if t.status in statuses]
    page = await store.list(OWNER, statuses=statuses)
    assert [t.task_id for t in page.tasks] == expected
    assert all(t.status in statuses for t in page.tasks)
    walked, _ = await _walk(store, page_size=2, statuses=statuses)
    assert [t.task_id for t in walked] == expected


async def test_status_filter_pages_through_long_runs_of_other_statuses(make_store):
    store = await make_store(MANY)
    wanted = []
    for i in range(260):
        t = await store.create(OWNER)
        if i % 90 == 0:
            t = await store.update_status(OWNER, t.task_id, TaskStatus.INPUT_REQUIRED)
            wanted.append(t.task_id)
    only = {TaskStatus.INPUT_REQUIRED}
    page = await store.list(OWNER, statuses=only)
    assert [t.task_id for t in page.tasks] == list(reversed(wanted))
    walked, _ = await _walk(store, page_size=1, statuses=only)
    assert [t.task_id for t in walked] == list(reversed(wanted))


async def test_filter_matching_nothing(store):
    await _mixed(store, 5)
    page = await store.list(OWNER, statuses={TaskStatus.INPUT_REQUIRED, TaskStatus.FAILED})
    assert {t.status for t in page.tasks} == {TaskStatus.INPUT_REQUIRED, TaskStatus.FAILED}
    waiting = next(t for t in page.tasks if t.status is TaskStatus.INPUT_REQUIRED)
    await store.complete(OWNER, waiting.task_id, status=TaskStatus.COMPLETED)
    page = await store.list(OWNER, statuses={TaskStatus.INPUT_REQUIRED})
    assert page.tasks == []


def _b64(obj) -> str:
    raw = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "!!!!",
        "a",
        _b64(b"\xff\xfe"),
        _b64({"x": 1}),
        _b64([1, 2]),
        _b64({"a": "not-a-uuid", "f": "00000000"}),
        _b64({"a": 5, "f": "00000000"}),
        "\u00e9\u00e9\u00e9",
    ],
)
async def test_bad_page_token_is_invalid_argument(store, token):
    await store.create(OWNER)
    with pytest.raises(InvalidArgument) as e:
        await store.list(OWNER, page_token=token)
    assert e.value.violations[0].field == "page_token"


async def test_token_is_bound_to_its_filter(make_store):
    store = await make_store(MANY)
    await _mixed(store, 10)
    page = await store.list(OWNER, page_size=1, statuses={TaskStatus.WORKING})
    assert page.next_page_token
    with pytest.raises(InvalidArgument):
        await store.list(OWNER, page_size=1, page_token=page.next_page_token)
    with pytest.raises(InvalidArgument):
        await store.list(
            OWNER, page_size=1, page_token=page.next_page_token, statuses={TaskStatus.FAILED}
        )


async def test_owner_scoping(store):
    alice = [await store.create("alice") for _ in range(3)]
    bob = [await store.create("bob") for _ in range(2)]
    assert [t.task_id for t in (await store.list("alice")).tasks] == [
        t.task_id for t in reversed(alice)
    ]
    assert [t.task_id for t in (await store.list("bob")).tasks] == [
        t.task_id for t in reversed(bob)
    ]
    assert (await store.list("carol")).tasks == []
    # A token names a position, not a task: it never opens another owner's tasks.
    page = await store.list("alice", page_size=1)
    other = await store.list("bob", page_token=page.next_page_token)
    assert all(t.owner == "bob" for t in other.tasks)


async def test_another_owners_task_is_indistinguishable_from_a_missing_one(store):
    mine = await store.create("alice", variables={"secret": 1})
    await store.delete("alice", (gone := await store.create("alice")).task_id)
    ops = {
        "get": lambda tid: store.get("bob", tid),
        "update_status": lambda tid: store.update_status("bob", tid, TaskStatus.COMPLETED),
        "set_variables": lambda tid: store.set_variables("bob", tid, {"x": 1}),
        "put_if_version": lambda tid: store.put_if_version(
            "bob", tid, 1, TaskPatch(mask=frozenset({"status_message"}), status_message="x")
        ),
        "complete": lambda tid: store.complete("bob", tid, status=TaskStatus.FAILED),
        "cancel": lambda tid: store.cancel("bob", tid),
        "delete": lambda tid: store.delete("bob", tid),
        "wait": lambda tid: store.wait("bob", tid, timeout_s=0),
        "watch": lambda tid: anext(aiter(store.watch("bob", tid))),
    }
    for name, op in ops.items():
        with pytest.raises(TaskNotFound) as foreign:
            await op(mine.task_id)
        with pytest.raises(TaskNotFound) as missing:
            await op(gone.task_id)
        msg_foreign = str(foreign.value).replace(mine.task_id, "ID")
        msg_missing = str(missing.value).replace(gone.task_id, "ID")
        assert msg_foreign == msg_missing, name
        assert reason_for(foreign.value) == reason_for(missing.value) == "TASK_NOT_FOUND"
    assert await store.get("alice", mine.task_id) == mine


@pytest.mark.parametrize(
    "statuses",
    [{TaskStatus.WORKING}, {TaskStatus.WORKING, TaskStatus.INPUT_REQUIRED}],
    ids=["working", "working+input"],
)
async def test_a_status_page_reads_at_most_a_page_plus_one_records(
    opened, backend, clock, indexed, statuses
):
    # docs/proposals/issue-10.md section 3: O(page), not O(owner), on a store with indexes.
    proxy = Counting(backend)
    store = opened.store(proxy, MANY, clock)
    expected = []
    for i in range(80):
        t = await store.create(OWNER)
        if i % 16 == 3:
            expected.append(t.task_id)
        elif i % 16 == 9:
            t = await store.update_status(OWNER, t.task_id, TaskStatus.INPUT_REQUIRED)
            if TaskStatus.INPUT_REQUIRED in statuses:
                expected.append(t.task_id)
        else:
            await store.complete(OWNER, t.task_id, status=TaskStatus.COMPLETED)
    proxy.calls.clear()
    walked, pages = await _walk(store, page_size=2, statuses=statuses)
    assert [t.task_id for t in walked] == list(reversed(expected))
    assert {name for name, _ in proxy.calls} == {"list_by_status"}
    assert len(proxy.calls) == pages, "one index read per page"
    assert all(n <= 2 + 1 for _, n in proxy.calls), proxy.calls
