"""Worker: claim a task, keep its lease alive, and stop the work the moment the lease is gone.

    worker = Worker(client, lease=30)
    async with worker.claim_next(request_method="tools/call", wait=30) as ctx:
        if ctx is not None:
            ...                      # ctx is a TaskContext: its writes carry the fencing token
            await ctx.complete(result)

While the block runs, a background task renews the lease every third of it.
A renewal that meets UNAVAILABLE is retried until the lease's local deadline,
counted from when the last successful claim or renewal was *sent* (the
server's clock started no earlier), so the worker gives up no later than the
server could have handed the task to someone else. On LEASE_LOST, or when that
deadline passes, `ctx.lease_lost` is set and the block is cancelled the way
`asyncio.timeout` cancels it; the cancellation surfaces as LeaseLostError.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Mapping
from types import TracebackType

from taskstate_client._async_client import AsyncTaskClient
from taskstate_client._duration import Seconds, to_seconds
from taskstate_client._json import JSON
from taskstate_client._lease import (
    LeaseClock,
    claimed_lease,
    default_worker_id,
    missed_deadline,
    needs_fresh_start,
    reclaim_lost,
    still_leased,
)
from taskstate_client.context import CancelRequestedError, TaskContext
from taskstate_client.errors import (
    DeadlineExceededError,
    LeaseHeldError,
    LeaseLostError,
    TaskStateError,
    UnavailableError,
)
from taskstate_client.models import Task, TaskStatus


class LeasedTaskContext(TaskContext):
    """A TaskContext holding a lease: fenced writes, a heartbeat, and loss as cancellation.

    Leaving the block with an exception fails the task (fenced) as TaskContext
    does; leaving it cancelled (say, the worker shuts down) writes nothing, so
    the task's lease policy decides (release it for another worker, or fail it).
    A block that ends without finishing the task leaves it to the policy too.

    ask() parks the task in input_required, which ends the lease; once answered,
    the task is claimed again by id (new fencing token, new heartbeat), so the
    handler carries on where it was. Between the last answer and that claim the
    task is claimable by anyone: if another worker got it, ask() raises LeaseLostError.
    """

    def __init__(
        self, client: AsyncTaskClient, task: Task, *, lease: float, sent_at: float
    ) -> None:
        if task.lease is None:
            raise ValueError("a leased context needs a task with a lease")
        super().__init__(client, task, fencing_token=task.lease.fencing_token)
        self._worker_id = task.lease.worker_id
        self.lease_lost = asyncio.Event()
        """Set when the lease is lost; the block is being cancelled then."""
        self._clock = LeaseClock(lease, sent_at)
        self._lock = asyncio.Lock()  # a renewal never overlaps a write through the context
        self._lost: LeaseLostError | None = None
        self._body: asyncio.Task[object] | None = None
        self._cancelled_body = False
        self._heartbeat: asyncio.Task[None] | None = None

    @property
    def lost(self) -> LeaseLostError | None:
        """Why the lease was lost, or None while it holds."""
        return self._lost

    async def _write(self, call: Awaitable[Task]) -> Task:
        async with self._lock:
            try:
                return self._keep(await call)
            except LeaseLostError as err:
                self._lose(err, cancel=False)  # the caller gets the error itself
                raise

    def _holding(self) -> bool:
        """A lease ends with any write leaving working: then there is nothing to renew."""
        return self._lost is None and self._task.status is TaskStatus.WORKING

    def _lose(self, err: LeaseLostError, *, cancel: bool) -> None:
        if self._lost is not None:
            return
        self._lost = err
        self.lease_lost.set()
        if cancel and self._body is not None and not self._body.done():
            self._cancelled_body = True
            self._body.cancel()

    async def _beat(self) -> None:
        loop = asyncio.get_running_loop()
        clock = self._clock
        while self._holding():
            await asyncio.sleep(clock.until_renewal(loop.time()))
            while self._holding():
                left = clock.left(loop.time())
                if left <= 0:
                    self._lose(missed_deadline(self.task_id, self.fencing_token), cancel=True)
                    return
                sent = loop.time()
                try:
                    async with self._lock:
                        if not self._holding():
                            return
                        task = await self.client.with_timeout(left).renew_lease(
                            self.task_id, self._fencing()
                        )
                        self._keep(task)
                except LeaseLostError as err:
                    self._lose(err, cancel=True)
                    return
                except (UnavailableError, DeadlineExceededError):
                    await asyncio.sleep(clock.retry_pause(loop.time()))
                    continue
                clock.renewed(sent)
                break

    def _fencing(self) -> int:
        assert self.fencing_token is not None  # set in __init__ from the lease
        return self.fencing_token

    def _start_heartbeat(self) -> None:
        self._heartbeat = asyncio.create_task(self._beat(), name=f"heartbeat {self.task_id}")

    async def _stop_heartbeat(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
            self._heartbeat = None

    async def ask(self, requests: Mapping[str, JSON], *, message: str = "") -> dict[str, JSON]:
        """TaskContext.ask, then the lease back (see the class docstring)."""
        # No renewal while the lease ends: one racing the answer would meet LEASE_LOST.
        await self._stop_heartbeat()
        try:
            answers = await super().ask(requests, message=message)
        finally:
            if still_leased(self._task, self.fencing_token, self._lost):
                self._start_heartbeat()
        if self._heartbeat is None:
            await self._reclaim()
        return answers

    async def _reclaim(self) -> None:
        lease = self._clock.lease
        sent = asyncio.get_running_loop().time()
        try:
            task = await self.client.claim(self.task_id, worker_id=self._worker_id, lease=lease)
        except LeaseHeldError as err:
            lost = reclaim_lost(self.task_id, err)
            self._lose(lost, cancel=False)
            raise lost from err
        if task is None:  # the server answers a claim by id with the task or an error
            raise TaskStateError("server answered a claim by id without a task")
        lease, self.fencing_token = claimed_lease(task, lease)
        self._keep(task)
        self._clock = LeaseClock(lease, sent)
        self._start_heartbeat()

    async def __aenter__(self) -> LeasedTaskContext:
        self._body = asyncio.current_task()
        self._start_heartbeat()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()  # first, synchronously: no loss can start after this
        ours = False
        if self._cancelled_body and self._body is not None:
            ours = self._body.uncancel() == 0 and exc_type is asyncio.CancelledError
        if self._heartbeat is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
        if self._lost is not None:
            if ours or exc is None:
                raise self._lost from exc
            return  # someone else's cancellation, or the body's own error, propagates
        if exc is None or self._task.terminal or isinstance(exc, asyncio.CancelledError):
            return
        if isinstance(exc, KeyboardInterrupt):
            return
        with contextlib.suppress(TaskStateError):
            if isinstance(exc, CancelRequestedError):
                await self.cancel("cancelled on request")
                return
            message, data = self._failure(exc)
            await self.fail(message, data=data)


class _Claim:
    """The async context manager claim()/claim_next() return: claims on enter."""

    def __init__(
        self,
        worker: Worker,
        task_id: str | None,
        request_method: str | None = None,
        wait: Seconds | None = None,
    ) -> None:
        self._worker = worker
        self._task_id = task_id
        self._request_method = request_method
        self._wait = wait
        self._ctx: LeasedTaskContext | None = None

    async def __aenter__(self) -> LeasedTaskContext | None:
        self._ctx = await self._worker._claim(self._task_id, self._request_method, self._wait)
        if self._ctx is None:
            return None
        return await self._ctx.__aenter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._ctx is not None:
            await self._ctx.__aexit__(exc_type, exc, tb)


class _ClaimById(_Claim):
    async def __aenter__(self) -> LeasedTaskContext:
        ctx = await super().__aenter__()
        if ctx is None:  # the server always answers a claim by id with the task or an error
            raise TaskStateError("server answered a claim by id without a task")
        return ctx


class Worker:
    """Claims tasks for one worker identity; every claim is an `async with` block."""

    def __init__(
        self, client: AsyncTaskClient, worker_id: str | None = None, lease: Seconds = 30.0
    ) -> None:
        self.client = client
        self.worker_id = worker_id or default_worker_id()
        self.lease = to_seconds(lease)
        if self.lease <= 0:
            raise ValueError("lease must be positive")

    def claim_next(
        self, *, request_method: str | None = None, wait: Seconds | None = None
    ) -> _Claim:
        """The oldest claimable task (optionally of one method, waiting up to `wait`), or None."""
        return _Claim(self, None, request_method, wait)

    def claim(self, task_id: str) -> _ClaimById:
        """That task; raises LeaseHeldError if another worker holds it."""
        return _ClaimById(self, task_id)

    async def _claim(
        self,
        task_id: str | None,
        request_method: str | None = None,
        wait: Seconds | None = None,
    ) -> LeasedTaskContext | None:
        loop = asyncio.get_running_loop()
        sent = loop.time()
        task = await self.client.claim(
            task_id,
            worker_id=self.worker_id,
            lease=self.lease,
            request_method=request_method,
            wait=wait,
        )
        if task is None:
            return None
        lease, token = claimed_lease(task, self.lease)
        if needs_fresh_start(sent, loop.time(), lease):
            sent = loop.time()
            task = await self.client.renew_lease(task.task_id, token)
        return LeasedTaskContext(self.client, task, lease=lease, sent_at=sent)


__all__ = ["LeasedTaskContext", "Worker", "default_worker_id"]
