"""Seeding the big status owner's finished tasks straight into a store, before its server starts.

The status phase (bench/worker_phases.py) needs an owner with 100,000 tasks. Through the
server that is 100,000 CreateTask + CompleteTask calls of one owner: minutes on memory,
SQLite and Redis, but hours on DynamoDB Local, where one owner's writes go one after another
through its event-log item. A store listed in `SEEDERS` loads the finished ones itself: the
records are made by the domain (`finished_records`: a TaskStore creates and completes each
task, as the two RPCs would), and the store puts them in its own way. Stores not listed are
populated through the server.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from taskstate_server.backends import Record, open_backend
from taskstate_server.domain.model import TaskStatus
from taskstate_server.domain.store import TaskStore, wall_clock_ms

Seeder = Callable[[str, str, int], Awaitable[list[str]]]
"""seed(store URL, owner, count): the ids of `count` finished tasks put into the store."""


async def finished_records(owner: str, count: int) -> list[Record]:
    """`count` completed tasks of `owner`, exactly as the domain writes them: a TaskStore on
    the memory store runs create + complete for each; the records it stored."""
    backend = await open_backend("memory://")
    store = TaskStore(backend)
    now = wall_clock_ms()
    out: list[Record] = []
    try:
        for _ in range(count):
            task = await store.create(owner, request_method="bench/done")
            await store.complete(owner, task.task_id, status=TaskStatus.COMPLETED)
            record = await backend.get(owner, task.task_id, now)
            assert record is not None
            out.append(record)
    finally:
        await store.close()
    return out


async def seed_dynamodb(url: str, owner: str, count: int) -> list[str]:
    """Creates the table and loads the tasks as old history (`DynamoDBBackend.load_history`:
    BatchWriteItem, no event-log entries: nothing watches them) with the table's stream off,
    so DynamoDB Local stores no stream record of them (it slows down with every one it
    keeps); the stream is on again before the server starts and follows it."""
    from taskstate_server.backends.dynamodb import DynamoDBBackend

    records = await finished_records(owner, count)
    backend = DynamoDBBackend.from_url(url)
    try:
        await backend.create_table()
        await backend.set_stream(False)
        await backend.load_history(records, wall_clock_ms())
        await backend.set_stream(True)
    finally:
        await backend.close()
    return [r.task_id for r in records]


SEEDERS: dict[str, Seeder] = {"dynamodb": seed_dynamodb}
