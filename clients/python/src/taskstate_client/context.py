"""TaskContext: what a tool handler holds while its task runs.

A handler mostly wants "my task": read a few typed variables, report
progress, finish. The context keeps the last version it saw (`task`) so that
reads are free and synchronous; every write through the context refreshes
it, and `refresh()` picks up other writers (say, a requester answering an
input_required prompt).

Used as a context manager, an exception escaping the block fails the task
(unless it is already finished), so a crashed handler never leaves a task
`working` until its ttl runs out; a cancelled handler (asyncio cancellation,
Ctrl-C) cancels it instead, since nobody will finish that work, and so does a
CancelRequestedError (the requester asked to stop).

`ask()` is the handler's side of input requests: it parks the task in
input_required with the questions and returns the answers once the requester
has given them all (ProvideInput), without the handler ever leaving its code
path, so nothing before the question runs twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import TypeVar, overload

import grpc

from taskstate_client._async_client import AsyncTaskClient, AsyncUpdateFn
from taskstate_client._duration import Seconds
from taskstate_client._json import JSON
from taskstate_client._requests import DEFAULT_FAIL_CODE, UpdateFn, Variables
from taskstate_client._sentinel import MISSING, Missing
from taskstate_client._sync_client import TaskClient
from taskstate_client.errors import TaskStateError, TaskTerminalError
from taskstate_client.models import Task, TaskStatus

T = TypeVar("T")


class CancelRequestedError(Exception):
    """The requester asked to stop the task (RequestCancel) while the handler waited on it.

    Not a failed call (hence not a TaskStateError): the task is still active. Left to
    escape a TaskContext block, it cancels the task, which is what the requester asked.
    """

    def __init__(self, task: Task) -> None:
        super().__init__(f"cancel requested for task {task.task_id}")
        self.task = task


def _unanswered(task: Task, requests: Mapping[str, JSON]) -> dict[str, JSON]:
    """The requests ask() still has to send: answered keys cannot be asked again."""
    return {k: v for k, v in requests.items() if k not in task.input_responses}


def _needs_asking(task: Task, fresh: Mapping[str, JSON]) -> bool:
    """False when the task already waits on exactly these (a handler re-asking after a
    restart): re-sending nothing new would be a self-transition, which the server refuses."""
    if not fresh:
        return False
    if task.status is not TaskStatus.INPUT_REQUIRED:
        return True
    asked = task.input_requests
    return any(k not in asked or asked[k] != v for k, v in fresh.items())


def _ask_over(keys: frozenset[str]) -> Callable[[Task], bool]:
    def over(task: Task) -> bool:
        return keys <= task.input_responses.keys() or task.cancel_requested or task.terminal

    return over


def _answers(task: Task, keys: frozenset[str]) -> dict[str, JSON]:
    """The responses ask() returns, or why there are none."""
    if keys <= task.input_responses.keys():
        return {k: task.input_responses[k] for k in sorted(keys)}
    if task.cancel_requested:
        raise CancelRequestedError(task)
    raise TaskTerminalError(
        f"task {task.task_id} ended ({task.status.value}) before its input arrived",
        code=grpc.StatusCode.FAILED_PRECONDITION,
        reason="TASK_TERMINAL",
    )


def _ask_keys(requests: Mapping[str, JSON]) -> frozenset[str]:
    if not requests:
        raise ValueError("ask() needs at least one request")
    return frozenset(requests)


def _stop_wanted(task: Task) -> bool:
    return task.cancel_requested or task.terminal


class _ContextBase:
    """The synchronous, snapshot-reading half both flavours share."""

    _task: Task

    @property
    def task(self) -> Task:
        """The last version this context saw."""
        return self._task

    @property
    def task_id(self) -> str:
        return self._task.task_id

    @property
    def cancel_requested(self) -> bool:
        """Whether the requester has asked to stop, as of the last version this context saw.

        Free to poll between steps of the work; refresh() or a watch-based wait
        (wait_cancel_requested) picks up a newer version.
        """
        return self._task.cancel_requested

    def _keep(self, task: Task) -> Task:
        # Writes and a concurrent watch both report versions: never step back.
        if task.version >= self._task.version:
            self._task = task
        return task

    @overload
    def get(self, name: str, default: T, *, type: type[T]) -> T: ...
    @overload
    def get(self, name: str, default: None = None, *, type: type[T]) -> T | None: ...
    @overload
    def get(self, name: str, default: JSON = None, *, type: None = None) -> JSON: ...
    def get(self, name: str, default: JSON = None, *, type: type[T] | None = None) -> JSON:
        """A variable from the snapshot, `default` when absent.

        With `type`, the value is checked (TypeError on mismatch) so the caller
        gets what its annotation claims; JSON numbers satisfy float, and bools
        do not pass for int.
        """
        if name not in self._task.variables:
            return default
        value = self._task.variables[name]
        if type is None:
            return value
        if type is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        bad_bool = isinstance(value, bool) and type is not bool
        if bad_bool or not isinstance(value, type):
            raise TypeError(f"variable {name!r} is {value.__class__.__name__}, not {type.__name__}")
        return value

    def _failure(self, exc: BaseException) -> tuple[str, JSON]:
        return str(exc) or exc.__class__.__name__, {"exception": exc.__class__.__name__}


class TaskContext(_ContextBase):
    """The asyncio flavour; see SyncTaskContext for threaded code."""

    def __init__(
        self, client: AsyncTaskClient, task: Task, *, fencing_token: int | None = None
    ) -> None:
        self.client = client
        self._task = task
        self.fencing_token = fencing_token
        """Carried by every write when set (a leased context, see Worker)."""

    @classmethod
    async def create(
        cls,
        client: AsyncTaskClient,
        *,
        request_method: str = "",
        ttl: Seconds | None = None,
        poll_interval: Seconds | None = None,
        variables: Variables | None = None,
        request_id: str | None = None,
    ) -> TaskContext:
        """Starts a new task and wraps it."""
        task = await client.create(
            request_method=request_method,
            ttl=ttl,
            poll_interval=poll_interval,
            variables=variables,
            request_id=request_id,
        )
        return cls(client, task)

    @classmethod
    async def attach(cls, client: AsyncTaskClient, task_id: str) -> TaskContext:
        """Wraps an existing task, e.g. in a worker that picked it up."""
        return cls(client, await client.get(task_id))

    async def _write(self, call: Awaitable[Task]) -> Task:
        """Every write goes through here, so a leased context can serialise it with renewals."""
        return self._keep(await call)

    async def refresh(self) -> Task:
        return self._keep(await self.client.get(self.task_id))

    async def set(self, name: str, value: JSON) -> Task:
        """Sets one variable (None deletes it)."""
        return await self.set_many({name: value})

    async def set_many(self, values: Variables | None = None, /, **more: JSON) -> Task:
        """Merges several variables in one write."""
        merged = {**(values or {}), **more}
        return await self._write(
            self.client.set_variables(self.task_id, merged, fencing_token=self.fencing_token)
        )

    async def update(self, fn: AsyncUpdateFn) -> Task:
        """Compare-and-swap read-modify-write of the variables; see AsyncTaskClient.update."""
        return await self._write(
            self.client.update(self.task_id, fn, fencing_token=self.fencing_token)
        )

    async def complete(
        self,
        result: JSON | Missing = MISSING,
        *,
        message: str = "",
        variables: Variables | None = None,
    ) -> Task:
        return await self._write(
            self.client.complete(
                self.task_id,
                result,
                message=message,
                variables=variables,
                fencing_token=self.fencing_token,
            )
        )

    async def fail(
        self,
        message: str,
        *,
        code: int = DEFAULT_FAIL_CODE,
        data: JSON | Missing = MISSING,
        variables: Variables | None = None,
    ) -> Task:
        return await self._write(
            self.client.fail(
                self.task_id,
                message,
                code=code,
                data=data,
                variables=variables,
                fencing_token=self.fencing_token,
            )
        )

    async def require_input(self, message: str) -> Task:
        """Parks the task in input_required; the message tells the requester what is needed."""
        return await self._write(
            self.client.update_status(
                self.task_id, TaskStatus.INPUT_REQUIRED, message, fencing_token=self.fencing_token
            )
        )

    async def resume(self, message: str = "") -> Task:
        """Back to working after input arrived."""
        return await self._write(
            self.client.update_status(
                self.task_id, TaskStatus.WORKING, message, fencing_token=self.fencing_token
            )
        )

    async def cancel(self, message: str = "") -> Task:
        """CancelTask is a requester's call and carries no fencing token."""
        return await self._write(self.client.cancel(self.task_id, message))

    async def ask(self, requests: Mapping[str, JSON], *, message: str = "") -> dict[str, JSON]:
        """Asks the requester for input and returns the answers once all have arrived.

        Moves the task to input_required with `requests` (key -> what to ask, any JSON
        the requester understands, e.g. an MCP elicitation; keys are unique over the
        task's lifetime), then follows it through WatchTask until every key has a
        response; the last answer has moved the task back to working. Returns
        {key: response} for these keys. Asking again for keys already asked (a
        handler restarted) sends nothing new: it waits, or returns at once if
        answered. Raises CancelRequestedError when the requester asks to stop
        meanwhile, TaskTerminalError when the task ends first.
        """
        keys = _ask_keys(requests)
        if self._task.cancel_requested:
            raise CancelRequestedError(self._task)
        fresh = _unanswered(self._task, requests)
        if _needs_asking(self._task, fresh):
            await self._write(
                self.client.update_status(
                    self.task_id,
                    TaskStatus.INPUT_REQUIRED,
                    message,
                    fencing_token=self.fencing_token,
                    input_requests=fresh,
                )
            )
        return _answers(await self._follow(_ask_over(keys)), keys)

    async def wait_cancel_requested(self) -> Task:
        """Returns once the requester has asked to stop (or the task has ended).

        Follows the task through WatchTask, so it costs no polling; run it beside
        the work (`asyncio.create_task`, a TaskGroup) to stop that work early. Look
        at the returned task: `cancel_requested`, or `terminal` without it.
        """
        return await self._follow(_stop_wanted)

    async def _follow(self, over: Callable[[Task], bool]) -> Task:
        """The first version (from the last one seen) for which `over` holds."""
        if over(self._task):
            return self._task
        watch = self.client.watch(self.task_id, self._task.version)
        async with contextlib.aclosing(watch):
            async for task in watch:
                if over(self._keep(task)):
                    return task
        return self._task  # the watch ends only after the terminal version

    async def __aenter__(self) -> TaskContext:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None or self._task.terminal:
            return
        # The original exception matters more than a failure to record it
        # (say, someone cancelled the task meanwhile).
        with contextlib.suppress(TaskStateError):
            if isinstance(exc, CancelRequestedError):
                await self.cancel("cancelled on request")
            elif isinstance(exc, asyncio.CancelledError | KeyboardInterrupt):
                await self.cancel("the handler was cancelled")
            else:
                message, data = self._failure(exc)
                await self.fail(message, data=data)


class SyncTaskContext(_ContextBase):
    """The blocking twin of TaskContext, over a TaskClient."""

    def __init__(self, client: TaskClient, task: Task, *, fencing_token: int | None = None) -> None:
        self.client = client
        self._task = task
        self.fencing_token = fencing_token
        """Carried by every write when set (a leased context, see SyncWorker)."""

    @classmethod
    def create(
        cls,
        client: TaskClient,
        *,
        request_method: str = "",
        ttl: Seconds | None = None,
        poll_interval: Seconds | None = None,
        variables: Variables | None = None,
        request_id: str | None = None,
    ) -> SyncTaskContext:
        """Starts a new task and wraps it."""
        task = client.create(
            request_method=request_method,
            ttl=ttl,
            poll_interval=poll_interval,
            variables=variables,
            request_id=request_id,
        )
        return cls(client, task)

    @classmethod
    def attach(cls, client: TaskClient, task_id: str) -> SyncTaskContext:
        """Wraps an existing task, e.g. in a worker that picked it up."""
        return cls(client, client.get(task_id))

    def _write(self, call: Callable[[], Task]) -> Task:
        """Every write goes through here, so a leased context can serialise it with renewals."""
        return self._keep(call())

    def refresh(self) -> Task:
        return self._keep(self.client.get(self.task_id))

    def set(self, name: str, value: JSON) -> Task:
        """Sets one variable (None deletes it)."""
        return self.set_many({name: value})

    def set_many(self, values: Variables | None = None, /, **more: JSON) -> Task:
        """Merges several variables in one write."""
        merged = {**(values or {}), **more}
        return self._write(
            lambda: self.client.set_variables(
                self.task_id, merged, fencing_token=self.fencing_token
            )
        )

    def update(self, fn: UpdateFn) -> Task:
        """Compare-and-swap read-modify-write of the variables; see TaskClient.update."""
        return self._write(
            lambda: self.client.update(self.task_id, fn, fencing_token=self.fencing_token)
        )

    def complete(
        self,
        result: JSON | Missing = MISSING,
        *,
        message: str = "",
        variables: Variables | None = None,
    ) -> Task:
        return self._write(
            lambda: self.client.complete(
                self.task_id,
                result,
                message=message,
                variables=variables,
                fencing_token=self.fencing_token,
            )
        )

    def fail(
        self,
        message: str,
        *,
        code: int = DEFAULT_FAIL_CODE,
        data: JSON | Missing = MISSING,
        variables: Variables | None = None,
    ) -> Task:
        return self._write(
            lambda: self.client.fail(
                self.task_id,
                message,
                code=code,
                data=data,
                variables=variables,
                fencing_token=self.fencing_token,
            )
        )

    def require_input(self, message: str) -> Task:
        """Parks the task in input_required; the message tells the requester what is needed."""
        return self._write(
            lambda: self.client.update_status(
                self.task_id, TaskStatus.INPUT_REQUIRED, message, fencing_token=self.fencing_token
            )
        )

    def resume(self, message: str = "") -> Task:
        """Back to working after input arrived."""
        return self._write(
            lambda: self.client.update_status(
                self.task_id, TaskStatus.WORKING, message, fencing_token=self.fencing_token
            )
        )

    def cancel(self, message: str = "") -> Task:
        """CancelTask is a requester's call and carries no fencing token."""
        return self._write(lambda: self.client.cancel(self.task_id, message))

    def ask(self, requests: Mapping[str, JSON], *, message: str = "") -> dict[str, JSON]:
        """Asks the requester for input, blocking until every answer arrived (TaskContext.ask)."""
        keys = _ask_keys(requests)
        if self._task.cancel_requested:
            raise CancelRequestedError(self._task)
        fresh = _unanswered(self._task, requests)
        if _needs_asking(self._task, fresh):
            self._write(
                lambda: self.client.update_status(
                    self.task_id,
                    TaskStatus.INPUT_REQUIRED,
                    message,
                    fencing_token=self.fencing_token,
                    input_requests=fresh,
                )
            )
        return _answers(self._follow(_ask_over(keys)), keys)

    def wait_cancel_requested(self) -> Task:
        """Blocks until the requester has asked to stop (or the task has ended).

        Follows the task through WatchTask; run it in a thread beside the work, or
        poll `cancel_requested` between steps instead.
        """
        return self._follow(_stop_wanted)

    def _follow(self, over: Callable[[Task], bool]) -> Task:
        if over(self._task):
            return self._task
        watch = self.client.watch(self.task_id, self._task.version)
        with contextlib.closing(watch):
            for task in watch:
                if over(self._keep(task)):
                    return task
        return self._task

    def __enter__(self) -> SyncTaskContext:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None or self._task.terminal:
            return
        with contextlib.suppress(TaskStateError):
            if isinstance(exc, CancelRequestedError):
                self.cancel("cancelled on request")
            elif isinstance(exc, KeyboardInterrupt):
                self.cancel("the handler was cancelled")
            else:
                message, data = self._failure(exc)
                self.fail(message, data=data)


__all__ = ["CancelRequestedError", "SyncTaskContext", "TaskContext"]
