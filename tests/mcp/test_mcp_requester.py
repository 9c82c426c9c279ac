"""The requester helper (`taskstate_mcp.client`) against a real MCP server speaking tasks.

The server (`_tasks_ext_server.py`) is a small, independent implementation of SEP-2663 on the
official SDK's lowlevel server, over streamable HTTP in a subprocess: it rejects `tasks/*` whose
`Mcp-Name` header is not the task id, and `tasks/*` from clients without the extension, so every
passing `tasks/*` call here also proves the header and the capability `_meta`. Tasks move only when
a test says so (the `release` tool, `tasks/update`, `tasks/cancel`), so nothing sleeps.

Two server modes: "push" serves `subscriptions/listen` with `taskIds` and advises a 10-minute
`pollIntervalMs` (a test that finishes did so by notification or the post-ack read, never by
polling); "poll" does not serve listen and advises 20 ms.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp_types as types
import pytest
from conftest import ClusterFactory
from mcp.client import Client
from mcp.client.session import ClientRequestContext, ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from taskstate_mcp.client import (
    TaskCancelledError,
    TaskFailedError,
    TaskHandle,
    TasksClient,
    TasksExtension,
    TaskState,
)

SERVER = Path(__file__).with_name("_tasks_ext_server.py")
MODES = {"push": ["--poll-ms", "600000"], "poll": ["--no-listen", "--poll-ms", "20"]}


@dataclass
class Running:
    mode: str
    url: str


def _start(mode: str) -> tuple[subprocess.Popen[str], Running]:
    proc = subprocess.Popen(
        [sys.executable, str(SERVER), *MODES[mode]], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.strip().isdigit():
        proc.kill()
        pytest.fail(f"the tasks-extension test server did not start (printed {line!r})")
    return proc, Running(mode, f"http://127.0.0.1:{int(line)}/mcp")


@pytest.fixture(scope="module", params=sorted(MODES))
def ext_server(request: pytest.FixtureRequest) -> Iterator[Running]:
    proc, running = _start(request.param)
    try:
        yield running
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def push_server() -> Iterator[Running]:
    proc, running = _start("push")
    try:
        yield running
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@dataclass
class Connected:
    client: Client
    tasks: TasksClient
    ext: TasksExtension


@asynccontextmanager
async def _connect(url: str, **kwargs: Any) -> AsyncIterator[Connected]:
    ext = TasksExtension()
    async with Client(
        url, extensions=[ext], message_handler=ext.message_handler(), **kwargs
    ) as client:
        yield Connected(client, TasksClient(client), ext)


def _text(result: types.CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return block.text


async def _task(conn: Connected, tool: str) -> TaskHandle:
    outcome = await conn.tasks.call_tool(tool, {})
    assert isinstance(outcome, TaskHandle), outcome
    return outcome


async def _result_recording_pushes(
    conn: Connected, handle: TaskHandle
) -> tuple[types.CallToolResult, list[TaskState]]:
    """The handle's result (within 30 s) and the `notifications/tasks` states pushed meanwhile."""
    pushed: list[TaskState] = []
    remove = conn.ext.watchers.add(handle.task_id, pushed.append)
    try:
        with anyio.fail_after(30):
            return await handle.result(), pushed
    finally:
        remove()


async def _release(conn: Connected, handle: TaskHandle) -> None:
    await conn.client.call_tool("release", {"taskId": handle.task_id})


async def test_immediate_result_is_a_call_tool_result(ext_server: Running) -> None:
    async with _connect(ext_server.url) as conn:
        outcome = await conn.tasks.call_tool("echo", {"text": "hi"})
        assert isinstance(outcome, types.CallToolResult)
        assert _text(outcome) == "hi"


async def test_create_task_result_becomes_a_handle_that_tasks_get_finds(
    ext_server: Running,
) -> None:
    async with _connect(ext_server.url) as conn:
        handle = await _task(conn, "slow")
        assert handle.last.status == "working" and handle.last.created_at
        assert handle.last.poll_interval_ms is not None
        got = await handle.get()
        assert got.task_id == handle.task_id and got.status == "working"
        await _release(conn, handle)
        assert (await handle.get()).status == "completed"


async def test_follow_yields_each_state_to_the_exact_result(ext_server: Running) -> None:
    async with _connect(ext_server.url) as conn:
        handle = await _task(conn, "slow")
        seen: list[str] = []
        async with handle.follow() as states:
            async for state in states:
                seen.append(state.status)
                if state.status == "working":
                    await _release(conn, handle)
        assert seen == ["working", "completed"]
        result = await handle.result()
        assert _text(result) == "slow done 0" and result.is_error is False


async def test_input_round_trip(ext_server: Running) -> None:
    async with _connect(ext_server.url) as conn:
        handle = await _task(conn, "ask")
        assert handle.last.status == "input_required"
        assert list(handle.input_requests) == ["name-1"]
        assert handle.input_requests["name-1"]["method"] == "elicitation/create"
        await handle.answer(
            {"name-1": types.ElicitResult(action="accept", content={"name": "Luca"})}
        )
        assert handle.input_requests == {}  # answered keys are not offered twice
        assert _text(await handle.result()) == "Hello, Luca!"


async def test_input_answered_through_the_clients_elicitation_callback(
    ext_server: Running,
) -> None:
    asked: list[str] = []

    async def elicit(
        ctx: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult:
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"name": "Ada"})

    async with _connect(ext_server.url, elicitation_callback=elicit) as conn:
        handle = await _task(conn, "ask")
        await handle.answer_with_callbacks()
        assert _text(await handle.result()) == "Hello, Ada!"
    assert asked == ["Your name?"]


async def test_cancel_ends_cancelled(ext_server: Running) -> None:
    async with _connect(ext_server.url) as conn:
        handle = await _task(conn, "slow")
        await handle.cancel()
        final = await handle.wait()
        assert final.status == "cancelled"
        with pytest.raises(TaskCancelledError):
            await handle.result()


async def test_cancel_after_completion_keeps_the_result(ext_server: Running) -> None:
    async with _connect(ext_server.url) as conn:
        handle = await _task(conn, "slow")
        await _release(conn, handle)
        await handle.cancel()  # an ack; the task already completed (the spec allows this race)
        assert _text(await handle.result()) == "slow done 0"


async def test_failed_task_raises_its_json_rpc_error(ext_server: Running) -> None:
    async with _connect(ext_server.url) as conn:
        handle = await _task(conn, "boom")
        async with handle.follow() as states:
            async for state in states:
                if state.status == "working":
                    await _release(conn, handle)
        with pytest.raises(TaskFailedError) as failed:
            await handle.result()
        assert failed.value.error.code == -32603 and failed.value.error.message == "boom"
        assert failed.value.state.status == "failed"


async def test_unknown_task_is_invalid_params(ext_server: Running) -> None:
    async with _connect(ext_server.url) as conn:
        unknown = conn.tasks.handle("no-such-task")
        with pytest.raises(MCPError) as error:
            await unknown.get()
        assert error.value.error.code == types.INVALID_PARAMS
        with pytest.raises(MCPError) as error:  # bare, not wrapped in an ExceptionGroup
            await unknown.result()
        assert error.value.error.code == types.INVALID_PARAMS
        with pytest.raises(MCPError) as error:
            async with unknown.follow() as states:
                assert [state async for state in states] == []
        assert error.value.error.code == types.INVALID_PARAMS


async def test_handle_from_a_persisted_task_id(ext_server: Running) -> None:
    async with _connect(ext_server.url) as conn:
        handle = await _task(conn, "slow")
        await _release(conn, handle)
        again = conn.tasks.handle(handle.task_id)  # e.g. after a client restart
        assert _text(await again.result()) == "slow done 0"


async def test_plain_call_tool_follows_a_task_transparently(ext_server: Running) -> None:
    async with _connect(ext_server.url) as conn:
        # `lazy` completes on its first tasks/get: the claim resolver must follow the task.
        result = await conn.client.call_tool("lazy", {})
        assert _text(result) == "lazy done"


async def test_client_without_the_extension_gets_the_plain_result(ext_server: Running) -> None:
    async with Client(ext_server.url) as client:
        result = await client.call_tool("slow", {})
        assert _text(result) == "slow ran inline"
        with pytest.raises(ValueError, match="TasksExtension"):
            TasksClient(client)


async def test_a_hand_built_client_session_works_too(ext_server: Running) -> None:
    ext = TasksExtension()
    async with (
        streamable_http_client(ext_server.url) as (read, write),
        ClientSession(
            read, write, message_handler=ext.message_handler(), **ext.session_options()
        ) as session,
    ):
        await session.discover()
        tasks = TasksClient(session, ext)
        immediate = await tasks.call_tool("echo", {"text": "raw"})
        assert isinstance(immediate, types.CallToolResult) and _text(immediate) == "raw"
        handle = await tasks.call_tool("ask", {})
        assert isinstance(handle, TaskHandle)
        await handle.answer({"name-1": {"action": "accept", "content": {"name": "Raw"}}})
        assert _text(await handle.result()) == "Hello, Raw!"


async def test_task_notification_delivers_the_terminal_state(push_server: Running) -> None:
    """`pushy` completes only when read while a listen stream covers it, and that read still
    answers `working`; the advised poll interval is 10 minutes. So the helper ends only if it
    subscribed with taskIds, saw the ack, made its gap read, and took the pushed terminal state."""
    async with _connect(push_server.url) as conn:
        handle = await _task(conn, "pushy")
        result, pushed = await _result_recording_pushes(conn, handle)
        assert _text(result) == "pushed"
        assert [state.status for state in pushed] == ["completed"]
        assert pushed[0].result == result.model_dump(by_alias=True, mode="json", exclude_none=True)


# --- the helper against the real example server (taskstate_mcp.server, two replicas on Redis) ---


@asynccontextmanager
async def _example(url: str, user: str, *, notifications: bool = True) -> AsyncIterator[Connected]:
    """A helper-driven client of one example replica, as end user `user` (demo bearer auth)."""
    ext = TasksExtension(notifications=notifications)
    headers = {"Authorization": f"Bearer user-{user}"}
    async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(60.0)) as http:
        transport = streamable_http_client(url, http_client=http)
        async with Client(
            transport, extensions=[ext], message_handler=ext.message_handler()
        ) as client:
            yield Connected(client, TasksClient(client), ext)


async def test_example_notifications_follow_a_task_across_replicas(
    mcp_cluster: ClusterFactory,
) -> None:
    """Created and answered through replica A, followed through replica B. The answer goes in
    only once B's stream is live (ack seen, post-ack read done) and the task waits for input, and
    the example advises a 10-minute poll: only `notifications/tasks` can end this in time."""
    cluster = mcp_cluster(args=("--poll-interval", "600"))
    async with _example(cluster.a.url, "ann") as a, _example(cluster.b.url, "ann") as b:
        created = await a.tasks.call_tool("ask_name", {})
        assert isinstance(created, TaskHandle)
        assert created.last.poll_interval_ms == 600_000
        follower = b.tasks.handle(created.task_id)
        waiting = anyio.Event()
        outcome: list[types.CallToolResult] = []

        async def follow() -> None:
            async with follower.follow() as states:
                async for state in states:
                    if state.status == "input_required":
                        waiting.set()
            outcome.append(await follower.result())  # the terminal state is already in hand

        pushed: list[TaskState] = []
        remove = b.ext.watchers.add(follower.task_id, pushed.append)
        try:
            with anyio.fail_after(30):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(follow)
                    await follower.live.wait()
                    await waiting.wait()
                    await created.answer(
                        {"name": types.ElicitResult(action="accept", content={"name": "Ann"})}
                    )
        finally:
            remove()
        assert follower.last.status == "completed"
        assert _text(outcome[0]) == "Hello, Ann! (side effects: 1)"
        assert pushed and pushed[-1].status == "completed"


async def test_example_polling_input_round_trip_across_replicas(
    mcp_cluster: ClusterFactory,
) -> None:
    cluster = mcp_cluster(args=("--poll-interval", "0.05"))
    async with (
        _example(cluster.a.url, "ann", notifications=False) as a,
        _example(cluster.b.url, "ann", notifications=False) as b,
    ):
        created = await a.tasks.call_tool("ask_name", {})
        assert isinstance(created, TaskHandle)
        handle = b.tasks.handle(created.task_id)
        with anyio.fail_after(30):
            async with handle.follow() as states:
                async for state in states:
                    if state.status == "input_required":
                        assert list(handle.input_requests) == ["name"]
                        await handle.answer(
                            {"name": types.ElicitResult(action="accept", content={"name": "Luca"})}
                        )
        assert handle.last.status == "completed"
        assert _text(await handle.result()) == "Hello, Luca! (side effects: 1)"


async def test_example_cancel_and_transparent_call_and_subject_scope(
    mcp_cluster: ClusterFactory,
) -> None:
    cluster = mcp_cluster(args=("--poll-interval", "0.05"))
    async with _example(cluster.a.url, "ann") as a, _example(cluster.b.url, "ann") as b:
        # Plain Client.call_tool follows the task itself (the claim resolver).
        with anyio.fail_after(30):
            assert _text(await a.client.call_tool("slow", {"seconds": 0.05})) == "slept 0.05s"
        created = await a.tasks.call_tool("slow", {"seconds": 60})
        assert isinstance(created, TaskHandle)
        handle = b.tasks.handle(created.task_id)
        await handle.cancel()
        with anyio.fail_after(30):
            final = await handle.wait()
        assert final.status == "cancelled", final
        with pytest.raises(TaskCancelledError):
            await handle.result()
    async with _example(cluster.b.url, "bob") as other:
        with pytest.raises(MCPError) as error:
            await other.tasks.handle(created.task_id).get()
        assert error.value.error.code == types.INVALID_PARAMS
