"""Requester side of the MCP tasks extension (`io.modelcontextprotocol/tasks`, SEP-2663).

For the official SDK's client, which knows nothing of tasks. This module supplies what it lacks,
through the SDK's public extension points only, for any server that speaks the extension:

- `TasksExtension`, a `ClientExtension`: advertises the extension in every request's client
  capabilities, claims `resultType: "task"` on `tools/call`, and observes `notifications/tasks`.
  With it, plain `Client.call_tool` follows a task to its end and returns the final
  `CallToolResult` (the spec's backwards-compatible surface).
- `TasksClient`: the task-aware surface. `call_tool` returns either the immediate
  `CallToolResult` or a `TaskHandle` (`get`, `follow`, `wait`, `result`, `input_requests`,
  `answer`, `cancel`). `tasks/*` requests carry the `Mcp-Name: <taskId>` header the spec requires
  over streamable HTTP (the SDK mirrors `Request.name_param` into that header).

Following: `subscriptions/listen` with `taskIds` when the server serves it, else `tasks/get` at
the task's `pollIntervalMs`. See /work/notes/mcpclient-design.md for what the SDK blocks.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeAlias, TypeVar

import anyio
import anyio.abc
import mcp_types as types
from mcp.client import Client
from mcp.client.extension import ClaimContext, ClientExtension, NotificationBinding, ResultClaim
from mcp.client.session import (
    ClientRequestContext,
    ClientSession,
    IncomingMessage,
    MessageHandlerFnT,
)
from mcp.shared.exceptions import MCPError
from pydantic import BaseModel, ConfigDict, TypeAdapter
from pydantic.alias_generators import to_camel

__all__ = [
    "TASKS_EXTENSION",
    "CreateTaskResult",
    "TaskCancelledError",
    "TaskFailedError",
    "TaskHandle",
    "TaskState",
    "TasksClient",
    "TasksExtension",
    "ToolCallOutcome",
]

TASKS_EXTENSION = "io.modelcontextprotocol/tasks"
_T = TypeVar("_T")
TaskStatus: TypeAlias = Literal["working", "input_required", "completed", "cancelled", "failed"]
TERMINAL_STATUSES: frozenset[str] = frozenset({"completed", "cancelled", "failed"})
DEFAULT_POLL_INTERVAL_S = 1.0
"""Used when the server gives no `pollIntervalMs` (it is optional in the schema)."""
LISTEN_BACKSTOP_S = 30.0
"""While an acknowledged notification stream covers a task, re-read it this often anyway."""
_NO_TIMEOUT = 1e9
"""`send_request` falls back to the session's read timeout on None; a listen must outlive it."""


class _Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")


class _TaskFields(_Wire):
    """The spec's `Task` (tasks.md, "Tasks")."""

    task_id: str
    status: TaskStatus
    status_message: str | None = None
    created_at: str
    last_updated_at: str
    ttl_ms: int | None = None
    poll_interval_ms: int | None = None


class TaskState(_TaskFields):
    """A `DetailedTask`: what `tasks/get` answers and `notifications/tasks` carries."""

    input_requests: dict[str, dict[str, Any]] | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class CreateTaskResult(types.Result, _TaskFields):
    """The flat `CreateTaskResult` (`resultType: "task"`) a server may answer `tools/call` with."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    result_type: Literal["task"] = "task"

    def as_state(self) -> TaskState:
        return _state_of(self)


class _TaskIdParams(types.RequestParams):
    task_id: str


class _UpdateTaskParams(_TaskIdParams):
    input_responses: dict[str, Any]


class _GetTaskRequest(types.Request[_TaskIdParams, Literal["tasks/get"]]):
    method: Literal["tasks/get"] = "tasks/get"
    name_param = "taskId"


class _UpdateTaskRequest(types.Request[_UpdateTaskParams, Literal["tasks/update"]]):
    method: Literal["tasks/update"] = "tasks/update"
    name_param = "taskId"


class _CancelTaskRequest(types.Request[_TaskIdParams, Literal["tasks/cancel"]]):
    method: Literal["tasks/cancel"] = "tasks/cancel"
    name_param = "taskId"


class _OpenResult(types.Result):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")


def _state_of(result: types.Result) -> TaskState:
    """The task fields of a result (`resultType` and `_meta` belong to the result, not the task)."""
    wire = result.model_dump(by_alias=True, mode="json")
    wire.pop("resultType", None)
    wire.pop("_meta", None)
    return TaskState.model_validate(wire)


class TaskFailedError(MCPError):
    """The task ended `failed`: it carries the JSON-RPC error the underlying request failed with."""

    def __init__(self, state: TaskState) -> None:
        error = state.error or {}
        code = error.get("code")
        super().__init__(
            code if isinstance(code, int) else types.INTERNAL_ERROR,
            str(error.get("message") or state.status_message or "task failed"),
            error.get("data"),
        )
        self.state = state


class TaskCancelledError(RuntimeError):
    """The task ended `cancelled`; there is no result."""

    def __init__(self, state: TaskState) -> None:
        super().__init__(
            f"task {state.task_id} was cancelled"
            + (f": {state.status_message}" if state.status_message else "")
        )
        self.state = state


def _json(value: Any) -> Any:
    """Wire form of one input response: SDK models dump by alias, plain JSON passes through."""
    if isinstance(value, BaseModel):
        return value.model_dump(by_alias=True, mode="json", exclude_none=True)
    return value


_InputRequestAdapter: TypeAdapter[types.InputRequest] = TypeAdapter(types.InputRequest)


class _Fanout(Generic[_T]):
    """Per-task-id fan-out (of pushed states, or of listen acks) to the handles following it."""

    def __init__(self) -> None:
        self._by_task: dict[str, list[Callable[[_T], None]]] = {}

    def add(self, task_id: str, sink: Callable[[_T], None]) -> Callable[[], None]:
        """Register `sink` for `task_id`; returns its idempotent removal."""
        self._by_task.setdefault(task_id, []).append(sink)

        def remove() -> None:
            sinks = self._by_task.get(task_id, [])
            if sink in sinks:
                sinks.remove(sink)
            if not sinks:
                self._by_task.pop(task_id, None)

        return remove

    def deliver(self, task_id: str, value: _T) -> None:
        for sink in list(self._by_task.get(task_id, ())):
            sink(value)


_deferred: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "taskstate_mcp_defer_task", default=False
)


class _TaskCreated(Exception):
    """Raised by the claim resolver inside `TasksClient.call_tool` to hand the created task out.

    `Client.call_tool` documents that resolver exceptions propagate as-is; this is how the task
    surface gets the `CreateTaskResult` while `Client.call_tool` still drives input rounds and
    the `HEADER_MISMATCH` re-list for it.
    """

    def __init__(self, created: CreateTaskResult) -> None:
        super().__init__(created.task_id)
        self.created = created


class TasksExtension(ClientExtension):
    """The client half of `io.modelcontextprotocol/tasks`: pass it to `Client(extensions=[...])`.

    For notification-driven following to trust a stream, the client must see the server's
    `notifications/subscriptions/acknowledged`; the SDK routes that only to `message_handler`, so
    also pass `message_handler=ext.message_handler()` (optionally wrapping your own). Without it,
    notifications still wake followers early and polling at `pollIntervalMs` remains the floor.
    """

    identifier = TASKS_EXTENSION

    def __init__(self, *, notifications: bool = True) -> None:
        self.use_notifications = notifications
        self.watchers: _Fanout[TaskState] = _Fanout()
        """Pushed `notifications/tasks` states, by task id."""
        self.acks: _Fanout[frozenset[str]] = _Fanout()
        """Listen acknowledgements (the honored task ids), by each honored task id."""

    def claims(self) -> Sequence[ResultClaim[Any]]:
        return (ResultClaim(result_type="task", model=CreateTaskResult, resolve=self._resolve),)

    def notifications(self) -> Sequence[NotificationBinding[Any]]:
        return (
            NotificationBinding(
                method="notifications/tasks", params_type=TaskState, handler=self._on_task
            ),
        )

    def session_options(self) -> dict[str, Any]:
        """Kwargs giving a hand-built `ClientSession` what `Client(extensions=[ext])` does."""
        return {
            "extensions": {self.identifier: self.settings()},
            "result_claims": {self.identifier: tuple(self.claims())},
            "notification_bindings": tuple(self.notifications()),
        }

    def message_handler(self, inner: MessageHandlerFnT | None = None) -> MessageHandlerFnT:
        """A `message_handler` that records listen acknowledgements, then calls `inner`."""

        async def handle(message: IncomingMessage) -> None:
            if isinstance(message, types.SubscriptionsAcknowledgedNotification):
                self._on_ack(message.params.notifications)
            if inner is not None:
                await inner(message)
            else:
                await anyio.lowlevel.checkpoint()

        return handle

    def _on_ack(self, honored: types.SubscriptionFilter) -> None:
        raw = (honored.model_extra or {}).get("taskIds") or []
        ids = frozenset(str(task_id) for task_id in raw)
        for task_id in ids:
            self.acks.deliver(task_id, ids)

    async def _on_task(self, state: TaskState) -> None:
        self.watchers.deliver(state.task_id, state)

    async def _resolve(self, created: CreateTaskResult, ctx: ClaimContext) -> types.CallToolResult:
        if _deferred.get():
            raise _TaskCreated(created)
        return await TaskHandle(ctx.session, self, created.as_state()).result()


ToolCallOutcome: TypeAlias = "types.CallToolResult | TaskHandle"


@dataclass
class TaskHandle:
    """One task on one server, followed through `session` (any replica behind the same URL)."""

    session: ClientSession
    extension: TasksExtension
    last: TaskState
    answered: set[str] = field(default_factory=set)
    """Input request keys this handle has answered (the spec asks clients to not answer twice)."""
    live: anyio.Event = field(default_factory=anyio.Event)
    """Set once, while following, a listen stream covering this task was acknowledged and the
    read after the ack was done: from then on every change reaches this handle by push."""

    @property
    def task_id(self) -> str:
        return self.last.task_id

    @property
    def input_requests(self) -> dict[str, dict[str, Any]]:
        """Outstanding input requests of the last observed state, minus keys answered here."""
        if self.last.status != "input_required":
            return {}
        return {k: v for k, v in (self.last.input_requests or {}).items() if k not in self.answered}

    async def get(self) -> TaskState:
        """`tasks/get`: the task now (raises `MCPError` -32602 when the server does not know it)."""
        got = await self.session.send_request(
            _GetTaskRequest(params=_TaskIdParams(task_id=self.task_id)), _OpenResult
        )
        self.last = _state_of(got)
        return self.last

    async def answer(self, responses: Mapping[str, Any]) -> None:
        """`tasks/update`: answer input requests by key (values: SDK result models or JSON)."""
        wire = {key: _json(value) for key, value in responses.items()}
        await self.session.send_request(
            _UpdateTaskRequest(
                params=_UpdateTaskParams(task_id=self.task_id, input_responses=wire)
            ),
            _OpenResult,
        )
        self.answered.update(wire)

    async def answer_with_callbacks(self) -> None:
        """Answer every outstanding input request through the session's own callbacks
        (elicitation, sampling, roots), under the same trust model as direct requests."""
        responses: dict[str, Any] = {}
        for key, raw in self.input_requests.items():
            request = _InputRequestAdapter.validate_python(raw)
            ctx = ClientRequestContext(session=self.session, request_id=key, meta=None)
            response = await self.session.dispatch_input_request(ctx, request)
            if isinstance(response, types.ErrorData):
                raise MCPError.from_error_data(response)
            responses[key] = response
        if responses:
            await self.answer(responses)

    async def cancel(self) -> None:
        """`tasks/cancel`: a cooperative request; the task may still complete."""
        await self.session.send_request(
            _CancelTaskRequest(params=_TaskIdParams(task_id=self.task_id)), _OpenResult
        )

    @asynccontextmanager
    async def follow(self) -> AsyncIterator[AsyncIterator[TaskState]]:
        """Each distinct state until the terminal one (included), as an async iterator:
        `async with handle.follow() as states: async for state in states: ...`."""
        send, receive = anyio.create_memory_object_stream[TaskState](math.inf)
        failure: list[Exception] = []

        async def run() -> None:
            async with send:
                try:
                    await self._follow(send.send)
                except Exception as error:  # ends the iteration; raised bare on leaving the block
                    failure.append(error)

        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            try:
                async with receive:
                    yield receive
            finally:
                tg.cancel_scope.cancel()
        if failure:
            raise failure[0]

    async def wait(self) -> TaskState:
        """Follow the task to its terminal state and return that state."""

        async def keep(state: TaskState) -> None:
            pass

        await self._follow(keep)
        return self.last

    async def result(self) -> types.CallToolResult:
        """The tool's final `CallToolResult`; `TaskFailedError` / `TaskCancelledError` otherwise."""
        return _final(await self.wait())

    async def _follow(self, emit: Callable[[TaskState], Awaitable[None]]) -> None:
        """Follow to terminal: by notification when the server pushes them for this task (after
        its listen ack, one `tasks/get` closes the gap), else by `tasks/get` at `pollIntervalMs`."""
        inbox_send, inbox = anyio.create_memory_object_stream[TaskState](64)
        acked = anyio.Event()

        def on_ack(ids: frozenset[str]) -> None:
            if self.task_id in ids:
                acked.set()

        def on_state(state: TaskState) -> None:
            # A follower this far behind re-reads with tasks/get anyway.
            with contextlib.suppress(anyio.WouldBlock):
                inbox_send.send_nowait(state)

        remove_watch = self.extension.watchers.add(self.task_id, on_state)
        remove_ack = self.extension.acks.add(self.task_id, on_ack)
        listening = _ListenState()
        failure: BaseException | None = None
        try:
            async with anyio.create_task_group() as tg:
                if self.extension.use_notifications and not self.last.terminal:
                    tg.start_soon(self._listen, listening)
                try:
                    await self._loop(emit, inbox, acked, listening)
                except Exception as error:  # re-raised bare below, not wrapped in an ExceptionGroup
                    failure = error
                tg.cancel_scope.cancel()
        finally:
            remove_watch()
            remove_ack()
            inbox_send.close()
            inbox.close()
        if failure is not None:
            raise failure

    async def _loop(
        self,
        emit: Callable[[TaskState], Awaitable[None]],
        inbox: anyio.abc.ObjectReceiveStream[TaskState],
        acked: anyio.Event,
        listening: _ListenState,
    ) -> None:
        state = self.last if self.last.created_at else await self.get()
        seen: dict[str, Any] | None = None
        gap_closed = False
        while True:
            if state.model_dump() != seen:
                seen = state.model_dump()
                self.last = state
                await emit(state)
            if state.terminal:
                return
            if acked.is_set() and not gap_closed:
                gap_closed = True
                state = await self.get()
                self.live.set()
                continue
            interval = (
                state.poll_interval_ms / 1000
                if state.poll_interval_ms is not None
                else DEFAULT_POLL_INTERVAL_S
            )
            if gap_closed and listening.alive:
                interval = max(interval, LISTEN_BACKSTOP_S)
            pushed: TaskState | None = None
            with anyio.move_on_after(interval):
                pushed = await _next_wake(inbox, acked, gap_closed)
            if pushed is not None:
                state = pushed
            elif not (acked.is_set() and not gap_closed):
                state = await self.get()

    async def _listen(self, listening: _ListenState) -> None:
        """Hold one `subscriptions/listen` stream for this task until cancelled or refused."""
        request = types.SubscriptionsListenRequest(
            params=types.SubscriptionsListenRequestParams(
                notifications=types.SubscriptionFilter.model_validate({"taskIds": [self.task_id]})
            )
        )
        listening.alive = True
        try:
            await self.session.send_request(
                request, _OpenResult, request_read_timeout_seconds=_NO_TIMEOUT
            )
        except MCPError:
            pass  # not served (-32601), refused (-32021) or dropped: polling carries on
        finally:
            listening.alive = False


@dataclass
class _ListenState:
    alive: bool = False


async def _next_wake(
    inbox: anyio.abc.ObjectReceiveStream[TaskState], acked: anyio.Event, gap_closed: bool
) -> TaskState | None:
    """The next pushed state, or None when the listen ack arrives first (the gap read is due)."""
    if gap_closed or acked.is_set():
        return await inbox.receive()
    result: list[TaskState] = []
    async with anyio.create_task_group() as tg:

        async def pushed() -> None:
            result.append(await inbox.receive())
            tg.cancel_scope.cancel()

        async def ack() -> None:
            await acked.wait()
            tg.cancel_scope.cancel()

        tg.start_soon(pushed)
        tg.start_soon(ack)
    return result[0] if result else None


def _final(state: TaskState) -> types.CallToolResult:
    if state.status == "completed":
        return types.CallToolResult.model_validate(state.result or {})
    if state.status == "failed":
        raise TaskFailedError(state)
    raise TaskCancelledError(state)


class TasksClient:
    """Task-aware tool calls over an SDK `Client` or `ClientSession` built with `TasksExtension`."""

    def __init__(
        self, target: Client | ClientSession, extension: TasksExtension | None = None
    ) -> None:
        if extension is None and isinstance(target, Client):
            extension = next(
                (e for e in target.extensions or () if isinstance(e, TasksExtension)), None
            )
        if extension is None:
            raise ValueError(
                "the client must be built with the tasks extension: "
                "Client(..., extensions=[TasksExtension()]) "
                "or ClientSession(..., **ext.session_options()) with TasksClient(session, ext)"
            )
        self._target = target
        self.extension = extension

    @property
    def session(self) -> ClientSession:
        return self._target.session if isinstance(self._target, Client) else self._target

    async def call_tool(
        self,
        name: str,
        arguments: dict[str, Any] | None = None,
        *,
        meta: types.RequestParamsMeta | None = None,
    ) -> ToolCallOutcome:
        """`tools/call`: the `CallToolResult` when answered at once, else a `TaskHandle`."""
        token = _deferred.set(True)
        try:
            if isinstance(self._target, Client):
                return await self._target.call_tool(name, arguments, meta=meta)
            outcome = await self._target.call_tool(name, arguments, meta=meta, allow_claimed=True)
        except _TaskCreated as created:
            return self.handle(created.created.as_state())
        finally:
            _deferred.reset(token)
        if isinstance(outcome, CreateTaskResult):
            return self.handle(outcome.as_state())
        if isinstance(outcome, types.CallToolResult):
            return outcome
        raise TypeError(f"unexpected tools/call result {type(outcome).__name__}")

    def handle(self, state: TaskState | str) -> TaskHandle:
        """A handle for a known task (e.g. a task id persisted before a restart)."""
        if isinstance(state, str):
            state = TaskState(task_id=state, status="working", created_at="", last_updated_at="")
        return TaskHandle(self.session, self.extension, state)

    async def call_tool_result(
        self, name: str, arguments: dict[str, Any] | None = None
    ) -> types.CallToolResult:
        """`call_tool` followed to the end: the final `CallToolResult` either way."""
        outcome = await self.call_tool(name, arguments)
        return outcome if isinstance(outcome, types.CallToolResult) else await outcome.result()
