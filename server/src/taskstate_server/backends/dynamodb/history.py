"""Loading finished tasks straight into the table, as old history (the bench's big owner).

A task written through the backend costs one TransactWriteItems on its owner's log item,
so one owner's writes go one after another (`events`); loading a large backlog of finished
tasks that way takes hours on DynamoDB Local. `put_history` writes each task as the ONE
item a finished task is (`WriteRequests.history_item`) with BatchWriteItem, 25 a call, a
few calls at once, and appends nothing to the owners' logs: the tasks read exactly as
written tasks (get, list, list by status), expire and are swept as they do (the sweeper
logs their expiry), but no watcher hears of their writes, as of history older than the
log's retention.

With the table's stream on, each item also becomes a stream record, which other replicas'
feeds publish as a write; DynamoDB Local slows down with every stream record it has
stored, so a bench turns the stream off while loading (`DynamoDBBackend.set_stream`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Final

from ..base import Record
from .events import Call
from .items import Items
from .writes import WriteRequests

BATCH_WRITE_MAX: Final = 25
"""Items per BatchWriteItem (DynamoDB's limit)."""


Backoff = Callable[[int], Awaitable[None]]


async def put_history(
    call: Call,
    writes: WriteRequests,
    records: Iterable[Record],
    now_ms: int,
    concurrency: int,
    backoff: Backoff,
) -> int:
    """Puts every record's item, `concurrency` batches at once; how many were put.
    `backoff(attempt)` waits before resending what DynamoDB left unprocessed."""
    items = [writes.history_item(r, now_ms) for r in records]
    batches = [items[i : i + BATCH_WRITE_MAX] for i in range(0, len(items), BATCH_WRITE_MAX)]
    queue = iter(batches)

    async def writer() -> None:
        for batch in queue:  # one iterator shared by the writers: each batch once
            await _put_batch(call, writes.table, batch, backoff)

    await asyncio.gather(*(writer() for _ in range(max(1, concurrency))))
    return len(items)


async def _put_batch(call: Call, table: str, items: Items, backoff: Backoff) -> None:
    pending = [{"PutRequest": {"Item": item}} for item in items]
    attempt = 0
    while pending:
        resp = await call("batch_write_item", RequestItems={table: pending})
        pending = resp.get("UnprocessedItems", {}).get(table, [])
        if pending:  # throttled: back off before the rest, as DynamoDB asks
            await backoff(attempt)
            attempt += 1
