"""watch_all(resume=True) against a real server, on every store with an event log.

Reconnects and compaction are exercised exactly against a fake (test_client_feed_fake.py);
here: the real kinds, cursors that resume where they say, and the listing's cursor.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest
from _cli import run
from _harness import ServerProcess
from _stores import STORES
from taskstate_client import AsyncTaskClient, EventKind, TaskClient, TaskEvent
from taskstate_server.backends import Feature


@pytest.fixture(autouse=True)
def event_log(store_name: str, live_server: ServerProcess) -> None:
    if not STORES[store_name].has(Feature.EVENT_LOG):
        pytest.skip(f"{store_name} keeps no event log: a resumable watch is UNIMPLEMENTED there")


async def _until(client: AsyncTaskClient, cursor: str, task_id: str, version: int) -> TaskEvent:
    """Events from `cursor` until the one reporting `version` of the task (the server may
    coalesce versions a resume missed: the last one is never skipped)."""
    async with contextlib.aclosing(client.watch_all(resume=True, cursor=cursor)) as events:
        async for event in events:
            assert event.task_id == task_id and event.version <= version
            if event.version == version:
                return event
    raise AssertionError("the feed ended")


async def test_events_and_resume(aclient: AsyncTaskClient) -> None:
    before = await aclient.list(page_size=1)
    assert before.resume_cursor
    task = await aclient.create(variables={"n": 0})
    await aclient.set_variables(task.task_id, {"n": 1})
    written = await asyncio.wait_for(_until(aclient, before.resume_cursor, task.task_id, 2), 30)
    assert written.kind is EventKind.WRITE and written.task is not None
    assert written.task.variables == {"n": 1} and written.cursor
    await aclient.delete(task.task_id)
    gone = await asyncio.wait_for(_until(aclient, written.cursor, task.task_id, 2), 30)
    assert (gone.kind, gone.task) == (EventKind.DELETED, None)
    assert gone.cursor != written.cursor


def test_sync_resume(client: TaskClient) -> None:
    cursor = client.list(page_size=1).resume_cursor
    task = client.create()
    events = client.watch_all(resume=True, cursor=cursor)
    try:
        first = next(events)
    finally:
        events.close()
    assert (first.kind, first.task_id, first.version) == (EventKind.WRITE, task.task_id, 1)


def test_cli_watch_all_resume(
    cli_env: ServerProcess, client: TaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    cursor = client.list(page_size=1).resume_cursor
    task = client.create()
    client.delete(task.task_id)
    code, out, err = run(capsys, "watch-all", "--resume", cursor, "--count", "1")
    assert code == 0, err
    line = json.loads(out)
    assert (line["kind"], line["task_id"]) == ("deleted", task.task_id)
    assert line["cursor"] and "task" not in line
