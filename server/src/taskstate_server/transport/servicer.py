"""TaskService: each RPC converts its request, calls TaskStore, converts back.

Authentication, error mapping and request parsing happen around these methods
(see handlers.py), so each method here is the happy path only.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from taskstate.v1 import taskstate_pb2 as pb

from ..domain.model import Task
from ..domain.store import ByteBudget, TaskStore
from . import convert, sizes

T = TypeVar("T")

MAX_WAIT_S = 24 * 3600.0


class Draining(Exception):
    """The server is shutting down; streams end with UNAVAILABLE so clients resume."""


@dataclass(frozen=True, slots=True)
class Call:
    """What a method needs to know about its call besides the request."""

    owner: str
    time_remaining: float | None
    """Seconds until the call's deadline, None without one."""
    send_headers: Callable[[], Awaitable[None]]
    """Sends the response headers now: tells a watcher its stream is registered."""
    subject: str | None = None
    """The `taskstate-subject` metadata (checked), None without: the call's scope."""


def deadline_margin(remaining: float) -> float:
    """Answer a little before the deadline, so the reply still reaches the caller."""
    return min(0.25, remaining * 0.1)


class _PageMessages:
    """The messages of one ListTasks page, each task converted once: measuring a task
    for the page's byte budget needs its message, which the response then reuses."""

    def __init__(self, view: pb.TaskView.ValueType) -> None:
        self.view = view
        self._converted: dict[str, pb.Task] = {}

    def size_of(self, task: Task) -> int:
        message = convert.task_out(task, self.view)
        self._converted[task.task_id] = message
        return sizes.repeated_field_bytes(message)

    def messages(self, tasks: list[Task]) -> list[pb.Task]:
        return [self._message(t) for t in tasks]

    def _message(self, task: Task) -> pb.Task:
        message = self._converted.get(task.task_id)
        return message if message is not None else convert.task_out(task, self.view)


class TaskServicer:
    def __init__(self, store: TaskStore, draining: asyncio.Event) -> None:
        self.store = store
        self.draining = draining

    async def CreateTask(self, r: pb.CreateTaskRequest, call: Call) -> pb.CreateTaskResponse:
        task = await self.store.create(
            call.owner,
            ttl_ms=convert.duration_ms("ttl", r.ttl) if r.HasField("ttl") else None,
            poll_interval_ms=(
                convert.duration_ms("poll_interval", r.poll_interval)
                if r.HasField("poll_interval")
                else None
            ),
            request_method=r.request_method,
            variables=convert.variables_in("variables", r.variables),
            request_id=r.request_id or None,
            lease_policy=convert.lease_policy_in("lease_policy", r.lease_policy),
            max_attempts=r.max_attempts,
            subject=call.subject,
        )
        return pb.CreateTaskResponse(task=convert.task_out(task))

    async def GetTask(self, r: pb.GetTaskRequest, call: Call) -> pb.GetTaskResponse:
        task = await self.store.get(call.owner, r.task_id, subject=call.subject)
        return pb.GetTaskResponse(task=convert.task_out(task))

    async def ListTasks(self, r: pb.ListTasksRequest, call: Call) -> pb.ListTasksResponse:
        # Cut by bytes too: a page must reach a client that keeps gRPC's default limit.
        out = _PageMessages(convert.view_in("view", r.view))
        page = await self.store.list(
            call.owner,
            page_size=r.page_size,
            page_token=r.page_token,
            statuses=convert.statuses_in("statuses", r.statuses),
            budget=ByteBudget(sizes.PAGE_BUDGET_BYTES, out.size_of),
            subject=call.subject,
        )
        return pb.ListTasksResponse(
            tasks=out.messages(page.tasks),
            next_page_token=page.next_page_token,
            resume_cursor=page.resume_cursor,
        )

    async def UpdateTaskStatus(
        self, r: pb.UpdateTaskStatusRequest, call: Call
    ) -> pb.UpdateTaskStatusResponse:
        task = await self.store.update_status(
            call.owner,
            r.task_id,
            convert.status_in("status", r.status),
            r.status_message,
            r.expected_version if r.HasField("expected_version") else None,
            r.fencing_token if r.HasField("fencing_token") else None,
            input_requests=convert.variables_in("input_requests", r.input_requests),
            subject=call.subject,
        )
        return pb.UpdateTaskStatusResponse(task=convert.task_out(task))

    async def SetVariables(self, r: pb.SetVariablesRequest, call: Call) -> pb.SetVariablesResponse:
        task = await self.store.set_variables(
            call.owner,
            r.task_id,
            convert.variables_in("variables", r.variables),
            r.expected_version if r.HasField("expected_version") else None,
            r.fencing_token if r.HasField("fencing_token") else None,
            subject=call.subject,
        )
        return pb.SetVariablesResponse(task=convert.task_out(task))

    async def PutIfVersion(self, r: pb.PutIfVersionRequest, call: Call) -> pb.PutIfVersionResponse:
        task = await self.store.put_if_version(
            call.owner,
            r.task_id,
            r.expected_version,
            convert.patch_in(r),
            r.fencing_token if r.HasField("fencing_token") else None,
            subject=call.subject,
        )
        return pb.PutIfVersionResponse(task=convert.task_out(task))

    async def CompleteTask(self, r: pb.CompleteTaskRequest, call: Call) -> pb.CompleteTaskResponse:
        task = await self.store.complete(
            call.owner,
            r.task_id,
            status=convert.status_in("status", r.status),
            status_message=r.status_message,
            result=convert.result_in("result", r),
            error=convert.error_in("error", r.error) if r.HasField("error") else None,
            variables=convert.variables_in("variables", r.variables),
            expected_version=r.expected_version if r.HasField("expected_version") else None,
            fencing_token=r.fencing_token if r.HasField("fencing_token") else None,
            subject=call.subject,
        )
        return pb.CompleteTaskResponse(task=convert.task_out(task))

    async def CancelTask(self, r: pb.CancelTaskRequest, call: Call) -> pb.CancelTaskResponse:
        task = await self.store.cancel(
            call.owner, r.task_id, r.status_message, subject=call.subject
        )
        return pb.CancelTaskResponse(task=convert.task_out(task))

    async def DeleteTask(self, r: pb.DeleteTaskRequest, call: Call) -> pb.DeleteTaskResponse:
        await self.store.delete(call.owner, r.task_id, subject=call.subject)
        return pb.DeleteTaskResponse()

    async def WaitTask(self, r: pb.WaitTaskRequest, call: Call) -> pb.WaitTaskResponse:
        asked = convert.duration_s("timeout", r.timeout) if r.HasField("timeout") else MAX_WAIT_S
        budget = self._wait_budget(asked, call)
        statuses = convert.statuses_in("statuses", r.statuses)
        waiting = self.store.wait(
            call.owner, r.task_id, timeout_s=budget, statuses=statuses, subject=call.subject
        )
        try:
            task = await self._unless_draining(waiting)
        except Draining:
            # Long-running-operation semantics: the caller gets the task as it is now.
            task = await self.store.get(call.owner, r.task_id, subject=call.subject)
        return pb.WaitTaskResponse(task=convert.task_out(task))

    async def WatchTask(
        self, r: pb.WatchTaskRequest, call: Call
    ) -> AsyncIterator[pb.WatchTaskResponse]:
        stream = self.store.watch(call.owner, r.task_id, r.after_version, subject=call.subject)
        async for task in self._stream_unless_draining(stream):
            yield pb.WatchTaskResponse(task=convert.task_out(task))

    async def WatchTasks(
        self, r: pb.WatchTasksRequest, call: Call
    ) -> AsyncIterator[pb.WatchTasksResponse]:
        statuses = convert.statuses_in("statuses", r.statuses)
        view = convert.view_in("view", r.view)
        stream = await self.store.watch_all(
            call.owner,
            statuses,
            resume_cursor=r.resume_cursor,
            all_events=r.all_events,
            subject=call.subject,
        )
        with contextlib.closing(stream):
            # Headers go out only once the stream has its position: a client that waits
            # for them before ListTasks misses no change in between.
            await call.send_headers()
            async for message in self._stream_unless_draining(stream):
                yield convert.watch_message_out(message, view)

    async def ClaimTask(self, r: pb.ClaimTaskRequest, call: Call) -> pb.ClaimTaskResponse:
        wait = 0.0
        if r.HasField("wait_timeout"):
            wait = self._wait_budget(convert.duration_s("wait_timeout", r.wait_timeout), call)
        claiming = self.store.claim(
            call.owner,
            worker_id=r.worker_id,
            task_id=r.task_id or None,
            lease_ms=(
                convert.duration_ms("lease_duration", r.lease_duration)
                if r.HasField("lease_duration")
                else None
            ),
            request_method=r.request_method if r.HasField("request_method") else None,
            wait_s=wait,
            subject=call.subject,
        )
        if wait > 0:
            try:
                task = await self._unless_draining(claiming)
            except Draining:
                task = None  # as WaitTask: the answer of now, nothing claimed
        else:
            # Not cut short by a drain: a claim committed but never answered would hold
            # the task until its lease ends.
            task = await claiming
        return pb.ClaimTaskResponse(task=convert.task_out(task)) if task else pb.ClaimTaskResponse()

    async def RenewLease(self, r: pb.RenewLeaseRequest, call: Call) -> pb.RenewLeaseResponse:
        task = await self.store.renew(
            call.owner,
            r.task_id,
            fencing_token=r.fencing_token,
            lease_ms=(
                convert.duration_ms("lease_duration", r.lease_duration)
                if r.HasField("lease_duration")
                else None
            ),
            status_message=r.status_message if r.HasField("status_message") else None,
            subject=call.subject,
        )
        return pb.RenewLeaseResponse(task=convert.task_out(task))

    async def ProvideInput(self, r: pb.ProvideInputRequest, call: Call) -> pb.ProvideInputResponse:
        task, accepted = await self.store.provide_input(
            call.owner,
            r.task_id,
            convert.variables_in("input_responses", r.input_responses),
            subject=call.subject,
        )
        return pb.ProvideInputResponse(task=convert.task_out(task), accepted_keys=accepted)

    async def RequestCancel(
        self, r: pb.RequestCancelRequest, call: Call
    ) -> pb.RequestCancelResponse:
        task = await self.store.request_cancel(call.owner, r.task_id, subject=call.subject)
        return pb.RequestCancelResponse(task=convert.task_out(task))

    @staticmethod
    def _wait_budget(asked_s: float, call: Call) -> float:
        """What a wait may take: at most MAX_WAIT_S, and it ends a little before the call's
        deadline, so the answer still reaches the caller."""
        budget = max(0.0, min(MAX_WAIT_S, asked_s))
        if call.time_remaining is not None:
            remaining = call.time_remaining
            budget = max(0.0, min(budget, remaining - deadline_margin(remaining)))
        return budget

    async def _unless_draining(self, aw: Awaitable[T]) -> T:
        """Awaits `aw`, or raises Draining (cancelling it) when shutdown begins first."""
        work = asyncio.ensure_future(aw)
        drain = asyncio.ensure_future(self.draining.wait())
        try:
            await asyncio.wait({work, drain}, return_when=asyncio.FIRST_COMPLETED)
            if work.done():
                return work.result()
            raise Draining()
        finally:
            drain.cancel()
            work.cancel()
            # Consume its outcome whatever it was: one that ended as the call was cancelled
            # would otherwise be logged as "Task exception was never retrieved".
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await work

    async def _stream_unless_draining(self, stream: AsyncIterator[T]) -> AsyncIterator[T]:
        try:
            while True:
                try:
                    item = await self._unless_draining(anext(stream))
                except StopAsyncIteration:
                    return
                yield item
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
