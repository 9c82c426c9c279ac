"""MCP tasks for an `MCPServer`, stored in taskstate: one extension, one middleware.

    tasks = TaskstateTasks("127.0.0.1:50051")
    server = MCPServer("demo", extensions=[tasks], middleware=tasks.middleware())

    @tasks.tool(server)
    async def slow(seconds: float) -> str: ...

A tool marked task-capable runs as a task when the request declares the tasks extension
(`io.modelcontextprotocol/tasks`) in its `_meta` client capabilities: the call answers a
`CreateTaskResult` once the task exists in taskstate, and the tool runs on (holding a lease
with heartbeats) in this process, or in worker processes (`run_worker`). Any replica on the
same taskstate answers `tasks/*` for it. The extension API cannot serve `subscriptions/listen`
(a spec method) nor the 2025-11-25 `tools/call` task augmentation (the result sieve drops it),
so those two live in `middleware()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from typing import Any, Literal, TypeVar

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.extension import Extension, MethodBinding
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolRequestParams, CallToolResult, RequestParams, TextContent
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel, ConfigDict, Field
from taskstate_client import (
    JSON,
    AsyncTaskClient,
    CancelRequestedError,
    InvalidArgumentError,
    LeasePolicy,
    Task,
    TaskContext,
    TaskNotFoundError,
    TaskStatus,
)
from taskstate_client.worker import Worker

from taskstate_mcp import wire

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
Subject = Callable[[ServerRequestContext[Any, Any]], str | None]

ANONYMOUS = "anonymous"
REQUEST_METHOD = "tools/call"
TOOL_VAR = "mcp.tool"
ARGS_VAR = "mcp.arguments"

_current: ContextVar[TaskHandle | None] = ContextVar("taskstate_mcp_task", default=None)


def current_task() -> TaskHandle | None:
    """The task the running tool belongs to (None when it was called without a task)."""
    return _current.get()


class TaskHandle:
    """What a tool running as a task may do with its task: ask for input, read the cancel flag.

    Writes go through the leased TaskContext, so they carry the fencing token: a
    tool whose lease was lost cannot write over the task's outcome.
    """

    def __init__(self, ctx: TaskContext) -> None:
        self._ctx = ctx
        self.cancel_seen = False

    @property
    def task_id(self) -> str:
        return self._ctx.task_id

    @property
    def context(self) -> TaskContext:
        """The underlying taskstate TaskContext (variables, status messages)."""
        return self._ctx

    @property
    def cancel_requested(self) -> bool:
        return self._ctx.cancel_requested

    async def ask(self, requests: Mapping[str, JSON], *, message: str = "") -> dict[str, JSON]:
        """Sets input_required with these `inputRequests` and waits for every answer.

        Keys must be unique over the task's lifetime (tasks.md, Task Update Requests).
        The tool continues where it was: nothing is re-run.
        """
        try:
            return await self._ctx.ask(requests, message=message)
        except CancelRequestedError:
            # Out of the tool as a cancellation, which MCPServer does not turn into an
            # isError result: the runner then cancels the task, as the requester asked.
            self.cancel_seen = True
            raise asyncio.CancelledError from None


class _TaskIdParams(RequestParams):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")
    task_id: str = Field(alias="taskId")


class _UpdateParams(_TaskIdParams):
    input_responses: dict[str, Any] = Field(alias="inputResponses", default_factory=dict)


class _ListParams(RequestParams):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")
    cursor: str | None = None


class _RawNotification(BaseModel):
    """A notification sent exactly as built: the session's dump drops nulls (`ttlMs: null`)."""

    method: str
    params: dict[str, Any]

    def model_dump(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return {"method": self.method, "params": self.params}


_MISSING = (TaskNotFoundError, InvalidArgumentError)
"""A task id that names no task of this user (or is malformed): -32602 either way."""


def _legacy(ctx: ServerRequestContext[Any, Any]) -> bool:
    return ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS


def _not_found(what: str = "retrieve") -> MCPError:
    return MCPError(wire.INVALID_PARAMS, f"Failed to {what} task: Task not found")


def _dump(result: Any) -> dict[str, Any]:
    if isinstance(result, BaseModel):
        dumped: dict[str, Any] = result.model_dump(by_alias=True, mode="json", exclude_none=True)
        return dumped
    if isinstance(result, Mapping):
        return dict(result)
    raise TypeError(f"a tool call returned {type(result).__name__}, not a result")


async def _send(ctx: ServerRequestContext[Any, Any], method: str, params: dict[str, Any]) -> None:
    await ctx.session.send_notification(
        _RawNotification(method=method, params=params),  # type: ignore[arg-type]
        related_request_id=ctx.request_id,
    )


class TaskstateTasks(Extension):
    """The tasks extension (`io.modelcontextprotocol/tasks`) backed by taskstate.

    `client`: an AsyncTaskClient, or a taskstate address (the client is then made on
    first use, inside the server's event loop). `run`: "inprocess" runs a task's tool
    here under a lease; "workers" leaves it to `run_worker` processes. `lease_policy`
    "fail" (default) fails a task whose runner died once its lease ends; "release" offers
    it again, at most `max_attempts` times. `subject` maps a request to the end user
    (default: the MCP auth token's subject or client id, else "anonymous").
    """

    identifier = wire.EXTENSION_ID

    def __init__(
        self,
        client: AsyncTaskClient | str | None = None,
        *,
        token: str | None = None,
        tools: Sequence[str] = (),
        run: Literal["inprocess", "workers"] = "inprocess",
        lease: float = 30.0,
        lease_policy: LeasePolicy | str = LeasePolicy.FAIL,
        max_attempts: int = 0,
        ttl: float | None = 3600.0,
        poll_interval: float = 1.0,
        subject: Subject | None = None,
    ) -> None:
        self._given = client if isinstance(client, AsyncTaskClient) else None
        self._address = client if isinstance(client, str) else None
        self._token = token
        self._base: AsyncTaskClient | None = self._given
        self._scoped: dict[str, AsyncTaskClient] = {}
        self.task_tools: set[str] = set(tools)
        self.run = run
        self.lease = lease
        self.lease_policy = LeasePolicy(lease_policy)
        self.max_attempts = max_attempts
        self.ttl = ttl
        self.poll_interval = poll_interval
        self._subject_of = subject or _auth_subject
        self._running: set[asyncio.Task[None]] = set()

    # -- configuration ---------------------------------------------------------------------

    def tool(self, server: Any, *args: Any, **kwargs: Any) -> Callable[[F], F]:
        """`server.tool(...)` that also marks the tool task-capable."""

        def register(fn: F) -> F:
            server.tool(*args, **kwargs)(fn)
            self.task_tools.add(kwargs.get("name") or (args[0] if args else None) or fn.__name__)
            return fn

        return register

    def middleware(self) -> list[Any]:
        """Pass to `MCPServer(middleware=...)`: `subscriptions/listen` taskIds and legacy tasks."""
        return [_TasksMiddleware(self)]

    def client(self) -> AsyncTaskClient:
        """The taskstate client without a subject (the runner's; it sees the owner's tasks)."""
        if self._base is None:
            self._base = AsyncTaskClient(self._address, token=self._token)
        return self._base

    def scoped(self, subject: str) -> AsyncTaskClient:
        """A client scoped to one end user: other users' tasks are NOT_FOUND to it."""
        if subject not in self._scoped:
            self._scoped[subject] = self.client().with_subject(subject)
        return self._scoped[subject]

    def subject(self, ctx: ServerRequestContext[Any, Any]) -> str:
        return self._subject_of(ctx) or ANONYMOUS

    async def aclose(self) -> None:
        """Stops the tools running here (their tasks then follow the lease policy)."""
        for t in list(self._running):
            t.cancel()
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
        if self._base is not None and self._given is None:
            await self._base.close()

    # -- the extension surface -------------------------------------------------------------

    def methods(self) -> Sequence[MethodBinding]:
        legacy = frozenset(v for v in ("2025-11-25",))
        return (
            MethodBinding("tasks/get", _TaskIdParams, self._get),
            MethodBinding("tasks/update", _UpdateParams, self._update),
            MethodBinding("tasks/cancel", _TaskIdParams, self._cancel),
            MethodBinding("tasks/result", _TaskIdParams, self._result, protocol_versions=legacy),
            MethodBinding("tasks/list", _ListParams, self._list, protocol_versions=legacy),
        )

    async def intercept_tool_call(
        self,
        params: CallToolRequestParams,
        ctx: ServerRequestContext[Any, Any],
        call_next: CallNext,
    ) -> HandlerResult:
        if params.name not in self.task_tools or not wire.declares_tasks(ctx.meta):
            return await call_next(ctx)
        task = await self.start(ctx, params.name, params.arguments or {}, lambda: call_next(ctx))
        return wire.create_task_result(task)

    # -- running a task --------------------------------------------------------------------

    async def start(
        self,
        ctx: ServerRequestContext[Any, Any],
        name: str,
        arguments: Mapping[str, Any],
        call: Callable[[], Awaitable[Any]],
        ttl: float | None = None,
    ) -> Task:
        """Creates the task (under the end user's subject) and, in-process, claims it.

        Returns only once the task exists and, in-process, holds this replica's lease:
        a replica dying after that fails the task through the lease.
        """
        task = await self.scoped(self.subject(ctx)).create(
            request_method=REQUEST_METHOD,
            ttl=ttl if ttl is not None else self.ttl,
            poll_interval=self.poll_interval,
            variables={TOOL_VAR: name, ARGS_VAR: dict(arguments)},
            lease_policy=self.lease_policy,
            max_attempts=self.max_attempts,
        )
        if self.run != "inprocess":
            return task
        claimed: asyncio.Future[Task] = asyncio.get_running_loop().create_future()
        runner = asyncio.create_task(self._run_leased(task.task_id, call, claimed))
        self._running.add(runner)
        runner.add_done_callback(self._running.discard)
        try:
            return await claimed
        except Exception:
            # Created but never claimed: no lease would ever fail it, so fail it now.
            with contextlib.suppress(Exception):
                await self.client().fail(
                    task.task_id, "could not start the tool", code=wire.INTERNAL_ERROR
                )
            raise

    async def _run_leased(
        self, task_id: str, call: Callable[[], Awaitable[Any]], claimed: asyncio.Future[Task]
    ) -> None:
        try:
            async with Worker(self.client(), lease=self.lease).claim(task_id) as tctx:
                if not claimed.done():  # its waiter may have gone (client disconnected)
                    claimed.set_result(tctx.task)
                await execute(tctx, call)
        except BaseException as exc:
            if not claimed.done():
                claimed.set_exception(exc)
            elif not isinstance(exc, asyncio.CancelledError):
                log.exception("task %s: runner ended", task_id)
            if isinstance(exc, asyncio.CancelledError):
                raise

    # -- tasks/* ---------------------------------------------------------------------------

    def _gate(self, ctx: ServerRequestContext[Any, Any]) -> None:
        if not _legacy(ctx) and not wire.declares_tasks(ctx.meta):
            raise MCPError(
                wire.MISSING_CAPABILITY,
                "Missing required client capability",
                wire.missing_capability_data(),
            )

    async def _fetch(self, ctx: ServerRequestContext[Any, Any], task_id: str, what: str) -> Task:
        self._gate(ctx)
        try:
            return await self.scoped(self.subject(ctx)).get(task_id)
        except _MISSING:
            raise _not_found(what) from None

    async def _get(
        self, ctx: ServerRequestContext[Any, Any], params: _TaskIdParams
    ) -> dict[str, Any]:
        task = await self._fetch(ctx, params.task_id, "retrieve")
        if _legacy(ctx):
            return wire.legacy_task(task)
        return {"resultType": "complete", **wire.detailed_task(task)}

    async def _update(
        self, ctx: ServerRequestContext[Any, Any], params: _UpdateParams
    ) -> dict[str, Any]:
        self._gate(ctx)
        client = self.scoped(self.subject(ctx))
        try:
            if params.input_responses:
                await client.provide_input(params.task_id, params.input_responses)
            else:
                await client.get(params.task_id)
        except _MISSING:
            raise _not_found("update") from None
        return {"resultType": "complete"}

    async def _cancel(
        self, ctx: ServerRequestContext[Any, Any], params: _TaskIdParams
    ) -> dict[str, Any]:
        self._gate(ctx)
        client = self.scoped(self.subject(ctx))
        try:
            if _legacy(ctx):
                # 2025-11-25: tasks/cancel moves the task to cancelled at once.
                task = await client.get(params.task_id)
                if task.status.terminal:
                    raise MCPError(
                        wire.INVALID_PARAMS, f"Cannot cancel task: already {task.status}"
                    )
                return wire.legacy_task(
                    await client.cancel(params.task_id, "cancelled by the client")
                )
            await client.request_cancel(params.task_id)
        except _MISSING:
            raise _not_found("cancel") from None
        return {"resultType": "complete"}

    async def _result(
        self, ctx: ServerRequestContext[Any, Any], params: _TaskIdParams
    ) -> dict[str, Any]:
        """2025-11-25 tasks/result: waits until terminal, then answers what tools/call would."""
        client = self.scoped(self.subject(ctx))
        try:
            task = await client.wait(params.task_id)
        except _MISSING:
            raise _not_found("retrieve") from None
        meta = wire.related_task_meta(task.task_id)
        if task.status is TaskStatus.COMPLETED and isinstance(task.result, dict):
            result = dict(task.result)
            result["_meta"] = {**(result.get("_meta") or {}), **meta}
            return result
        if task.status is TaskStatus.FAILED:
            err = wire.task_error(task)
            raise MCPError(err["code"], err["message"], {**(err.get("data") or {}), "_meta": meta})
        raise MCPError(wire.INVALID_PARAMS, f"Task {task.status}: no result", {"_meta": meta})

    async def _list(
        self, ctx: ServerRequestContext[Any, Any], params: _ListParams
    ) -> dict[str, Any]:
        page = await self.scoped(self.subject(ctx)).list(page_token=params.cursor or "")
        out: dict[str, Any] = {"tasks": [wire.legacy_task(t) for t in page.tasks]}
        if page.next_page_token:
            out["nextCursor"] = page.next_page_token
        return out

    # -- push ------------------------------------------------------------------------------

    async def listen(
        self, ctx: ServerRequestContext[Any, Any], task_ids: Sequence[str]
    ) -> dict[str, Any]:
        """`subscriptions/listen` for `taskIds`: ack, then a DetailedTask per new version.

        Each watched task sends its current state first, then every change (WatchTask
        from this replica's taskstate), so a client that listens late still gets the
        terminal task. The stream ends (graceful close) once every task is terminal.
        """
        self._gate(ctx)
        client = self.scoped(self.subject(ctx))
        meta = {wire.SUBSCRIPTION_ID_META: ctx.request_id}
        honored: list[str] = []
        for task_id in dict.fromkeys(task_ids):
            with contextlib.suppress(TaskNotFoundError):
                await client.get(task_id)
                honored.append(task_id)
        await _send(
            ctx,
            "notifications/subscriptions/acknowledged",
            {"notifications": {"taskIds": honored}, "_meta": meta},
        )
        lock = asyncio.Lock()

        async def follow(task_id: str) -> None:
            last: dict[str, Any] | None = None
            with contextlib.suppress(TaskNotFoundError):
                async with contextlib.aclosing(client.watch(task_id)) as versions:
                    async for task in versions:
                        detailed = wire.detailed_task(task)
                        seen = {k: v for k, v in detailed.items() if k != "lastUpdatedAt"}
                        if seen == last:
                            continue  # a lease heartbeat: nothing the client can see changed
                        last = seen
                        async with lock:
                            await _send(ctx, "notifications/tasks", {**detailed, "_meta": meta})

        async with asyncio.TaskGroup() as group:
            for task_id in honored:
                group.create_task(follow(task_id))
        # Short-circuiting middleware owns the envelope: resultType is required at 2026-07-28.
        return {"resultType": "complete", "_meta": meta}


def _auth_subject(ctx: ServerRequestContext[Any, Any]) -> str | None:
    token = get_access_token()
    if token is None:
        return None
    return token.subject or token.client_id


async def execute(tctx: TaskContext, call: Callable[[], Awaitable[Any]]) -> None:
    """Runs one tool call as the task's body and records its outcome on the task.

    A result (isError ones too) completes the task; an MCPError fails it with that
    JSON-RPC error; a cancel request (seen through WatchTask) cancels the tool and
    then the task.
    """
    handle = TaskHandle(tctx)
    token = _current.set(handle)
    try:
        tool = asyncio.create_task(_call(call))
    finally:
        _current.reset(token)
    stop = asyncio.Event()
    watcher = asyncio.create_task(_stop_when_asked(tctx, tool, stop))
    try:
        result = await tool
    except asyncio.CancelledError:
        current = asyncio.current_task()
        wanted = stop.is_set() or handle.cancel_seen
        if wanted and (current is None or current.cancelling() == 0):
            if not tctx.task.terminal:
                await tctx.cancel("cancelled at the client's request")
            return
        raise
    except MCPError as err:
        await tctx.fail(err.error.message, code=err.error.code, data=err.error.data)
    except Exception as exc:  # the tool's crash is the task's outcome
        log.exception("task %s: tool call raised", tctx.task_id)
        await tctx.fail(f"Tool execution failed: {exc}", code=wire.INTERNAL_ERROR)
    else:
        await tctx.complete(result)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


async def _call(call: Callable[[], Awaitable[Any]]) -> dict[str, Any]:
    result = _dump(await call())
    if result.get("resultType") == "input_required":
        raise MCPError(
            wire.INTERNAL_ERROR,
            "a tool running as a task asked for input by MRTR; use current_task().ask()",
        )
    return result


async def _stop_when_asked(tctx: TaskContext, tool: asyncio.Task[Any], stop: asyncio.Event) -> None:
    """Cancels the tool once the requester asks to stop (or the task ended some other way)."""
    with contextlib.suppress(TaskNotFoundError):
        await tctx.wait_cancel_requested()
    stop.set()
    tool.cancel()


class _TasksMiddleware:
    """Serves what an Extension cannot: listen with `taskIds`, and legacy task-augmented calls."""

    def __init__(self, tasks: TaskstateTasks) -> None:
        self.tasks = tasks

    async def __call__(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        params: Mapping[str, Any] = ctx.params or {}
        if ctx.method == "initialize":
            return _with_legacy_capability(await call_next(ctx))
        if ctx.method == "subscriptions/listen":
            filt = params.get("notifications")
            if isinstance(filt, Mapping) and filt.get("taskIds") is not None:
                return await self.tasks.listen(ctx, [str(i) for i in filt["taskIds"]])
        elif (
            ctx.method == "tools/call"
            and _legacy(ctx)
            and isinstance(params.get("task"), Mapping)
            and params.get("name") in self.tasks.task_tools
        ):
            return await self._legacy_call(ctx, call_next, params)
        return await call_next(ctx)

    async def _legacy_call(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext, params: Mapping[str, Any]
    ) -> HandlerResult:
        """2025-11-25 task augmentation (`params.task`): answers CreateTaskResult `{task}`."""
        plain = {k: v for k, v in params.items() if k != "task"}
        ttl_ms = params["task"].get("ttl")
        ttl = ttl_ms / 1000 if isinstance(ttl_ms, int | float) and ttl_ms > 0 else None
        inner = _replace_params(ctx, plain)
        task = await self.tasks.start(
            ctx, str(params["name"]), params.get("arguments") or {}, lambda: call_next(inner), ttl
        )
        return {"task": wire.legacy_task(task)}


def _with_legacy_capability(result: HandlerResult) -> HandlerResult:
    """Advertises the 2025-11-25 `tasks` server capability (SEP-1686) in InitializeResult."""
    if isinstance(result, dict) and isinstance(result.get("capabilities"), dict):
        result["capabilities"]["tasks"] = {
            "list": {},
            "cancel": {},
            "requests": {"tools": {"call": {}}},
        }
    return result


async def _call_tool(server: Any, name: str, arguments: dict[str, Any]) -> Any:
    """`server.call_tool` under MCPServer's rule: a tool's exception is an isError result."""
    try:
        return await server.call_tool(name, arguments)
    except MCPError:
        raise
    except Exception as exc:  # the SDK's rule: tool failures are results, not protocol errors
        return CallToolResult(content=[TextContent(type="text", text=str(exc))], is_error=True)


def _replace_params(
    ctx: ServerRequestContext[Any, Any], params: dict[str, Any]
) -> ServerRequestContext[Any, Any]:
    return dataclasses.replace(ctx, params=params)


async def run_worker(
    server: Any,
    client: AsyncTaskClient,
    *,
    lease: float = 30.0,
    request_method: str = REQUEST_METHOD,
    concurrency: int = 1,
    stop: asyncio.Event | None = None,
) -> None:
    """A worker process's loop: claim tool-call tasks, run the tool on `server`, record it.

    Pairs with `TaskstateTasks(run="workers")`: the MCP replicas create tasks, these
    processes (any number, anywhere) claim them by `request_method` and run the tool
    through `server.call_tool(name, arguments)` with `current_task()` set.
    """
    worker = Worker(client, lease=lease)
    stop = stop or asyncio.Event()

    async def loop() -> None:
        while not stop.is_set():
            async with worker.claim_next(request_method=request_method, wait=5) as tctx:
                if tctx is None:
                    continue
                name = str(tctx.get(TOOL_VAR, ""))
                args = tctx.get(ARGS_VAR, {})
                arguments = dict(args) if isinstance(args, dict) else {}
                await execute(tctx, functools.partial(_call_tool, server, name, arguments))

    async with asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(loop())


__all__ = ["ANONYMOUS", "TaskHandle", "TaskstateTasks", "current_task", "execute", "run_worker"]
