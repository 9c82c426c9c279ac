"""SyncWorker: the threaded twin of Worker, for blocking code.

    worker = SyncWorker(client, lease=30)
    with worker.claim_next(request_method="tools/call", wait=30) as ctx:
        if ctx is not None:
            for chunk in work:
                if ctx.lease_lost.is_set():
                    break                # another worker owns the task now
                ...
            ctx.complete(result)

A thread renews the lease every third of it, as Worker's task does. A thread
cannot be cancelled, so on loss `ctx.lease_lost` (a threading.Event) is set for
the work to poll, every later write through the context raises LeaseLostError
without being sent, and leaving the block raises it if the block did not.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType

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
from taskstate_client._sync_client import TaskClient
from taskstate_client.context import CancelRequestedError, SyncTaskContext
from taskstate_client.errors import (
    DeadlineExceededError,
    LeaseHeldError,
    LeaseLostError,
    TaskStateError,
    UnavailableError,
)
from taskstate_client.models import Task, TaskStatus


class LeasedSyncTaskContext(SyncTaskContext):
    """A SyncTaskContext holding a lease; see the module docstring and LeasedTaskContext
    (whose ask() takes the lease back once the input arrived, as this one's does)."""

    def __init__(self, client: TaskClient, task: Task, *, lease: float, sent_at: float) -> None:
        if task.lease is None:
            raise ValueError("a leased context needs a task with a lease")
        super().__init__(client, task, fencing_token=task.lease.fencing_token)
        self._worker_id = task.lease.worker_id
        self.lease_lost = threading.Event()
        """Set when the lease is lost: stop working on the task."""
        self._clock = LeaseClock(lease, sent_at)
        self._lock = threading.Lock()  # a renewal never overlaps a write through the context
        self._lost: LeaseLostError | None = None
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    @property
    def lost(self) -> LeaseLostError | None:
        """Why the lease was lost, or None while it holds."""
        return self._lost

    def _write(self, call: Callable[[], Task]) -> Task:
        with self._lock:
            if self._lost is not None:
                raise self._lost
            try:
                return self._keep(call())
            except LeaseLostError as err:
                self._lose(err)
                raise

    def _holding(self) -> bool:
        return self._lost is None and self._task.status is TaskStatus.WORKING

    def _lose(self, err: LeaseLostError) -> None:
        if self._lost is None:
            self._lost = err
            self.lease_lost.set()

    def _start_heartbeat(self) -> None:
        self._stop = threading.Event()  # each heartbeat thread its own: an old one stays stopped
        self._heartbeat = threading.Thread(
            target=self._beat, args=(self._stop,), name=f"heartbeat {self.task_id}", daemon=True
        )
        self._heartbeat.start()

    def _stop_heartbeat(self) -> None:
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join()
            self._heartbeat = None

    def ask(self, requests: Mapping[str, JSON], *, message: str = "") -> dict[str, JSON]:
        """SyncTaskContext.ask, then the lease back (see LeasedTaskContext)."""
        self._stop_heartbeat()  # no renewal while the lease ends
        try:
            answers = super().ask(requests, message=message)
        finally:
            if still_leased(self._task, self.fencing_token, self._lost):
                self._start_heartbeat()
        if self._heartbeat is None:
            self._reclaim()
        return answers

    def _reclaim(self) -> None:
        lease = self._clock.lease
        sent = time.monotonic()
        try:
            task = self.client.claim(self.task_id, worker_id=self._worker_id, lease=lease)
        except LeaseHeldError as err:
            lost = reclaim_lost(self.task_id, err)
            with self._lock:
                self._lose(lost)
            raise lost from err
        if task is None:  # the server answers a claim by id with the task or an error
            raise TaskStateError("server answered a claim by id without a task")
        lease, self.fencing_token = claimed_lease(task, lease)
        self._keep(task)
        self._clock = LeaseClock(lease, sent)
        self._start_heartbeat()

    def _beat(self, stop: threading.Event) -> None:
        clock = self._clock
        token = self.fencing_token or 0
        while self._holding():
            if stop.wait(clock.until_renewal(time.monotonic())):
                return
            while self._holding():
                left = clock.left(time.monotonic())
                if left <= 0:
                    with self._lock:
                        self._lose(missed_deadline(self.task_id, token))
                    return
                sent = time.monotonic()
                try:
                    with self._lock:
                        if stop.is_set() or not self._holding():
                            return
                        renew = self.client.with_timeout(left).renew_lease
                        self._keep(renew(self.task_id, token))
                except LeaseLostError as err:
                    with self._lock:
                        self._lose(err)
                    return
                except (UnavailableError, DeadlineExceededError):
                    if stop.wait(clock.retry_pause(time.monotonic())):
                        return
                    continue
                clock.renewed(sent)
                break

    def __enter__(self) -> LeasedSyncTaskContext:
        self._start_heartbeat()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop_heartbeat()
        if self._lost is not None:
            if exc is None:
                raise self._lost
            return  # the block's own error (often this LeaseLostError) propagates
        if exc is None or self._task.terminal or isinstance(exc, KeyboardInterrupt):
            return  # an interrupted worker leaves the task to its lease policy
        with contextlib.suppress(TaskStateError):
            if isinstance(exc, CancelRequestedError):
                self.cancel("cancelled on request")
                return
            message, data = self._failure(exc)
            self.fail(message, data=data)


class SyncWorker:
    """Claims tasks for one worker identity; every claim is a `with` block."""

    def __init__(
        self, client: TaskClient, worker_id: str | None = None, lease: Seconds = 30.0
    ) -> None:
        self.client = client
        self.worker_id = worker_id or default_worker_id()
        self.lease = to_seconds(lease)
        if self.lease <= 0:
            raise ValueError("lease must be positive")

    @contextlib.contextmanager
    def claim_next(
        self, *, request_method: str | None = None, wait: Seconds | None = None
    ) -> Iterator[LeasedSyncTaskContext | None]:
        """The oldest claimable task (optionally of one method, waiting up to `wait`), or None."""
        ctx = self._claim(None, request_method, wait)
        if ctx is None:
            yield None
            return
        with ctx:
            yield ctx

    @contextlib.contextmanager
    def claim(self, task_id: str) -> Iterator[LeasedSyncTaskContext]:
        """That task; raises LeaseHeldError if another worker holds it."""
        ctx = self._claim(task_id, None, None)
        if ctx is None:  # the server answers a claim by id with the task or an error
            raise TaskStateError("server answered a claim by id without a task")
        with ctx:
            yield ctx

    def _claim(
        self, task_id: str | None, request_method: str | None, wait: Seconds | None
    ) -> LeasedSyncTaskContext | None:
        sent = time.monotonic()
        task = self.client.claim(
            task_id,
            worker_id=self.worker_id,
            lease=self.lease,
            request_method=request_method,
            wait=wait,
        )
        if task is None:
            return None
        lease, token = claimed_lease(task, self.lease)
        if needs_fresh_start(sent, time.monotonic(), lease):
            sent = time.monotonic()
            task = self.client.renew_lease(task.task_id, token)
        return LeasedSyncTaskContext(self.client, task, lease=lease, sent_at=sent)


__all__ = ["LeasedSyncTaskContext", "SyncWorker"]
