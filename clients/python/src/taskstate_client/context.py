"""TaskContext: what a tool handler holds while its task runs.

A handler mostly wants "my task": read a few typed variables, report
progress, finish. The context keeps the last version it saw (`task`) so that
reads are free and synchronous; every write through the context refreshes
it, and `refresh()` picks up other writers (say, a requester answering an
input_required prompt).

Used as a context manager, an exception escaping the block fails the task
(unless it is already finished), so a crashed handler never leaves a task
`working` until its ttl runs out; a cancelled handler (asyncio cancellation,
Ctrl-C) cancels it instead, since nobody will finish that work.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TypeVar, overload

from taskstate_client._async_client import AsyncTaskClient, AsyncUpdateFn
from taskstate_client._duration import Seconds
from taskstate_client._json import JSON
from taskstate_client._requests import DEFAULT_FAIL_CODE, UpdateFn, Variables
from taskstate_client._sentinel import MISSING, Missing
from taskstate_client._sync_client import TaskClient
from taskstate_client.errors import TaskStateError
from taskstate_client.models import Task, TaskStatus

T = TypeVar("T")


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

    def _keep(self, task: Task) -> Task:
        self._task = task
        return task

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
            if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt):
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

    def _keep(self, task: Task) -> Task:
        self._task = task
        return task

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
            if isinstance(exc, KeyboardInterrupt):
                self.cancel("the handler was cancelled")
            else:
                message, data = self._failure(exc)
                self.fail(message, data=data)


__all__ = ["SyncTaskContext", "TaskContext"]
