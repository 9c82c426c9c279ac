"""TaskStore.list with a ByteBudget: pages cut by size at the exact boundary, on every store.

The transport measures tasks in protobuf bytes; here each task says its own size
(variables["size"]), so the cut can be checked byte for byte.
"""

from __future__ import annotations

import pytest
from taskstate_server.domain.model import Limits, Task, TaskStatus
from taskstate_server.domain.store import ByteBudget, TaskStore

OWNER = "alice"
MANY = Limits(max_active_tasks=5000)


def size_of(task: Task) -> int:
    return int(task.variables["size"])  # type: ignore[arg-type]


async def create_sized(store: TaskStore, sizes: list[int]) -> list[Task]:
    """Tasks of these sizes, oldest first (so listed in reverse)."""
    return [await store.create(OWNER, variables={"size": s}) for s in sizes]


async def pages(
    store: TaskStore,
    max_bytes: int,
    *,
    page_size: int = 0,
    statuses: frozenset[TaskStatus] = frozenset(),
) -> list[list[Task]]:
    """Every page of a walk under the budget, following next_page_token."""
    out: list[list[Task]] = []
    token = ""
    while True:
        page = await store.list(
            OWNER,
            page_size=page_size,
            page_token=token,
            statuses=statuses,
            budget=ByteBudget(max_bytes, size_of),
        )
        out.append(page.tasks)
        token = page.next_page_token
        if not token:
            return out
        assert page.tasks, "a page with a next token is never empty"


def ids(tasks: list[Task]) -> list[str]:
    return [t.task_id for t in tasks]


@pytest.mark.parametrize(
    ("max_bytes", "lengths"),
    [(300, [3, 3, 3, 1]), (299, [2, 2, 2, 2, 2]), (301, [3, 3, 3, 1]), (1000, [10])],
    ids=["exact", "one-under", "one-over", "all"],
)
async def test_pages_are_cut_at_the_byte_boundary(make_store, max_bytes, lengths):
    store = await make_store(MANY)
    created = await create_sized(store, [100] * 10)
    walked = await pages(store, max_bytes)
    assert [len(p) for p in walked] == lengths
    assert ids([t for p in walked for t in p]) == ids(list(reversed(created)))


async def test_a_task_over_the_budget_is_a_page_of_its_own(make_store):
    store = await make_store(MANY)
    small_old, big, small_new = await create_sized(store, [50, 500, 50])
    walked = await pages(store, 100)
    assert [ids(p) for p in walked] == [[small_new.task_id], [big.task_id], [small_old.task_id]]


async def test_page_size_or_budget_whichever_is_reached_first(make_store):
    store = await make_store(MANY)
    created = await create_sized(store, [10, 10, 10, 90, 10, 10, 10])
    walked = await pages(store, 100, page_size=3)
    # Newest first: 10,10,10 | 90,10 (a third would pass 100) | 10,10
    assert [len(p) for p in walked] == [3, 2, 2]
    assert ids([t for p in walked for t in p]) == ids(list(reversed(created)))


async def test_budget_with_a_status_filter(make_store):
    store = await make_store(MANY)
    created = await create_sized(store, [40] * 12)
    wanted = []
    for i, t in enumerate(created):
        if i % 3 == 0:
            t = await store.update_status(OWNER, t.task_id, TaskStatus.INPUT_REQUIRED)
            wanted.append(t)
    only = frozenset({TaskStatus.INPUT_REQUIRED})
    walked = await pages(store, 80, statuses=only)
    assert [len(p) for p in walked] == [2, 2]
    assert ids([t for p in walked for t in p]) == ids(list(reversed(wanted)))


async def test_no_budget_and_an_ample_one_give_the_same_page(make_store):
    store = await make_store(MANY)
    await create_sized(store, [7] * 5)
    plain = await store.list(OWNER, page_size=3)
    budgeted = await store.list(OWNER, page_size=3, budget=ByteBudget(10**9, size_of))
    assert plain == budgeted
