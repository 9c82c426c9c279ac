"""Leases with fencing (docs/proposals/issue-10.md sections 1-3).

The rules are pure functions of a task; `Leases` applies them inside TaskStore's
read-check-CAS loop, so every claim, renewal, expiry and release is an ordinary
versioned write: it passes the version CAS (which is what makes the fence and the
expiry exactly-once, on every store and replica) and reaches every watcher.
`LeaseTimers` is the granting replica's fast path to expiry; the server's 1 s
sweeper (`expire_due`, over the backend's lease index) is the backstop.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from ..backends import base as backend_errors
from ..backends.base import Feature, IndexedBackend, has_feature
from . import records, scope, transitions, validation
from .errors import (
    BackendUnavailable,
    InvalidArgument,
    InvalidTransition,
    LeaseHeld,
    LeaseLost,
    TaskNotFound,
    UnsupportedByStore,
)
from .model import Lease, LeasePolicy, Task, TaskError, TaskStatus
from .scope import Subject

if TYPE_CHECKING:
    from .store import TaskStore
    from .watch import OwnerWatcher

log = logging.getLogger("taskstate.server")

LEASE_EXPIRED = "LEASE_EXPIRED"
LEASE_EXPIRED_CODE = 13
"""TaskError.code of a task failed by its lease's end: ErrorReason.LEASE_EXPIRED's number."""
CLAIM_BATCH = 16
"""Candidates read per round of a claim-next: enough that a few racing claimers
still find one left, few enough that a round reads little."""


class NotDue(Exception):
    """Nothing to expire (no lease, or it has not ended): nothing is written."""


class ExpiryPending(Exception):
    """A claim or renewal met a lease past its end that nobody processed yet: the
    policy is applied first (its own CAS), then the call is retried."""


# -- the rules ---------------------------------------------------------------------


def live(lease: Lease | None, now_ms: int) -> bool:
    return lease is not None and now_ms < lease.expire_time_ms


def check_fence(task: Task, fencing_token: int, now_ms: int) -> None:
    """The write may happen only under this lease, live; checked on the record read, the CAS
    at that version makes check and write one atomic step (proposal section 2.1)."""
    lease = task.lease
    if lease is None or lease.token != fencing_token or not live(lease, now_ms):
        current = lease.token if lease is not None and live(lease, now_ms) else 0
        raise LeaseLost(task.task_id, fencing_token, current)


def _no_pending_expiry(task: Task, now_ms: int) -> None:
    if task.lease is not None and not live(task.lease, now_ms):
        raise ExpiryPending()


def offered(task: Task, request_method: str | None) -> bool:
    """Whether a claim-next may take `task` (what the claim index's group says, verified
    on the record: the group is a hash)."""
    return (
        task.status is TaskStatus.WORKING
        and task.lease is None
        and task.lease_policy is not LeasePolicy.UNSPECIFIED
        and (request_method is None or task.request_method == request_method)
    )


def grant(task: Task, worker_id: str, duration_ms: int, now_ms: int) -> Task:
    """A new lease, with the next epoch as its fencing token."""
    token = task.lease_epoch + 1
    lease = Lease(worker_id, token, now_ms + duration_ms, duration_ms)
    return replace(task, lease=lease, lease_epoch=token)


def apply_claim(task: Task, worker_id: str, duration_ms: int, now_ms: int) -> Task:
    """Claim by id. The holder's own retry gets its lease back unchanged (the same
    object: nothing is written), so a claim whose answer was lost can be repeated."""
    _no_pending_expiry(task, now_ms)
    transitions.check_mutable(task)
    if task.status is not TaskStatus.WORKING:
        raise InvalidTransition(
            f"task {task.task_id} is {task.status.value}: only a working task can be claimed"
        )
    lease = task.lease
    if lease is not None:
        if lease.worker_id == worker_id:
            return task
        raise LeaseHeld(task.task_id, lease.expire_time_ms)
    return grant(task, worker_id, duration_ms, now_ms)


def apply_renewal(
    task: Task,
    fencing_token: int,
    duration_ms: int | None,
    status_message: str | None,
    now_ms: int,
) -> Task:
    _no_pending_expiry(task, now_ms)
    check_fence(task, fencing_token, now_ms)
    lease = task.lease
    assert lease is not None
    duration = lease.duration_ms if duration_ms is None else duration_ms
    renewed = replace(lease, expire_time_ms=now_ms + duration, duration_ms=duration)
    if status_message is None:
        return replace(task, lease=renewed)
    return replace(task, lease=renewed, status_message=status_message)


def apply_expiry(task: Task, now_ms: int) -> Task:
    """The policy, applied to a lease past its end. RELEASE hands the task back for
    another attempt while attempts remain; everything else fails it."""
    lease = task.lease
    if lease is None or live(lease, now_ms):
        raise NotDue()
    if task.lease_policy is LeasePolicy.RELEASE and task.attempt < task.max_attempts:
        return replace(task, lease=None, attempt=task.attempt + 1)
    what = f"the lease of worker {lease.worker_id} (fencing token {lease.token}) ended"
    error = TaskError(
        code=LEASE_EXPIRED_CODE,
        message=f"{LEASE_EXPIRED}: {what} without renewal",
        data={
            "reason": LEASE_EXPIRED,
            "worker_id": lease.worker_id,
            "fencing_token": lease.token,
            "attempt": task.attempt,
        },
    )
    return replace(
        task,
        status=TaskStatus.FAILED,
        status_message=f"lease of {lease.worker_id} expired",
        error=error,
        lease=None,
    )


def settle(task: Task) -> Task:
    """A lease lasts only while the task is `working`: any write leaving it ends the lease
    here, centrally, so no RPC can forget to. The epoch stays."""
    if task.lease is not None and task.status is not TaskStatus.WORKING:
        return replace(task, lease=None)
    return task


# -- the fast path -----------------------------------------------------------------


class LeaseTimers:
    """Leases this replica granted or renewed, by end: one asyncio task sleeps until the
    earliest and expires what is due. A lease renewed or ended meanwhile (here or on
    another replica) makes the expiry find NotDue; a failed expiry is the sweeper's."""

    def __init__(
        self, clock: Callable[[], int], expire: Callable[[str, str], Awaitable[object]]
    ) -> None:
        self._clock = clock
        self._expire = expire
        self._heap: list[tuple[int, str, str]] = []
        self._ends: dict[tuple[str, str], int] = {}  # the newest end per task
        self._wake = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._closed = False

    def track(self, task: Task) -> None:
        """Called after every write this replica commits."""
        key = (task.owner, task.task_id)
        if task.lease is None:
            self._ends.pop(key, None)
            return
        end = task.lease.expire_time_ms
        if self._ends.get(key) == end:
            return
        self._ends[key] = end
        earliest = self._heap[0][0] if self._heap else None
        heapq.heappush(self._heap, (end, task.owner, task.task_id))
        if earliest is None or end < earliest:
            self._wake.set()
        if self._runner is None and not self._closed:
            self._runner = asyncio.get_running_loop().create_task(self._run(), name="lease-timers")

    async def _run(self) -> None:
        # `_closed` is checked as well as cancellation: a database client may swallow a
        # cancel that lands inside its call, and close() must not then wait forever.
        while not self._closed:
            now = self._clock()
            while self._heap and self._heap[0][0] <= now and not self._closed:
                end, owner, task_id = heapq.heappop(self._heap)
                if self._ends.get((owner, task_id)) != end:
                    continue  # superseded by a renewal or ended by a write
                del self._ends[(owner, task_id)]
                try:
                    await self._expire(owner, task_id)
                except BackendUnavailable as exc:
                    log.debug("lease expiry of %s left to the sweeper: %s", task_id, exc)
                except Exception:
                    log.exception("lease expiry of %s failed (a bug)", task_id)
                now = self._clock()
            if self._closed:
                return
            delay = (self._heap[0][0] - now) / 1000 if self._heap else None
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    async def close(self) -> None:
        self._closed = True
        self._wake.set()
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
            self._runner = None


# -- the operations ----------------------------------------------------------------


class Leases:
    """ClaimTask, RenewLease and expiry, over a TaskStore's write loop."""

    def __init__(self, store: TaskStore) -> None:
        self._store = store
        self.timers = LeaseTimers(store._now, self.expire)

    def _indexed(self) -> IndexedBackend:
        backend = self._store.backend
        if not has_feature(backend, Feature.INDEXES):
            raise UnsupportedByStore(
                "this server's store does not support leases (it has no lease and claim indexes)"
            )
        return backend

    async def claim(
        self,
        owner: str,
        *,
        worker_id: str,
        task_id: str | None,
        lease_ms: int | None,
        request_method: str | None,
        wait_s: float,
        subject: Subject = None,
    ) -> Task | None:
        store = self._store
        # Claims by id need the index too: a lease must end by the sweeper even when the
        # replica that granted it is gone, and only the lease index finds it then.
        backend = self._indexed()
        validation.check_worker_id(worker_id)
        duration = (
            store.limits.default_lease_ms
            if lease_ms is None
            else validation.check_lease_duration(lease_ms, store.limits)
        )
        if task_id is not None:
            if request_method is not None:
                raise InvalidArgument("request_method", "only applies without a task_id")
            if wait_s > 0:
                raise InvalidArgument("wait_timeout", "only applies without a task_id")
            return await self._after_pending_expiry(
                owner, task_id, lambda t, now: apply_claim(t, worker_id, duration, now), subject
            )
        if request_method is not None:
            validation.check_text("request_method", request_method, store.limits)
        scope.check(subject)
        offer = _Offer(request_method, subject)
        return await self._claim_next(backend, owner, worker_id, duration, offer, wait_s)

    async def _after_pending_expiry(
        self,
        owner: str,
        task_id: str,
        change: Callable[[Task, int], Task],
        subject: Subject = None,
    ) -> Task:
        """Writes `change` (a claim or renewal), applying first the policy of a lease that
        has ended unprocessed (a write of its own: watchers see the expiry)."""
        while True:
            try:
                return await self._store._mutate(owner, task_id, None, change, subject=subject)
            except ExpiryPending:
                await self.expire(owner, task_id)

    async def _claim_next(
        self,
        backend: IndexedBackend,
        owner: str,
        worker_id: str,
        duration: int,
        offer: _Offer,
        wait_s: float,
    ) -> Task | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        hub = self._store._hub
        # Registered before the first look, so a task offered in between wakes us.
        watcher = hub.add_owner_watcher(owner) if wait_s > 0 else None
        try:
            while True:
                task = await self._claim_first(backend, owner, worker_id, duration, offer)
                remaining = deadline - loop.time()
                if task is not None or watcher is None or remaining <= 0:
                    return task
                try:
                    await asyncio.wait_for(_next_offer(watcher, offer), remaining)
                except TimeoutError:
                    return None
                except BackendUnavailable:  # the feed had a gap: look again, with a new watcher
                    hub.remove_owner_watcher(owner, watcher)
                    watcher = hub.add_owner_watcher(owner)
        finally:
            if watcher is not None:
                hub.remove_owner_watcher(owner, watcher)

    async def _claim_first(
        self,
        backend: IndexedBackend,
        owner: str,
        worker_id: str,
        duration: int,
        offer: _Offer,
    ) -> Task | None:
        """The oldest offered task we win. A candidate lost to another claimer is skipped,
        not retried: N racing claimers cost at most N(N-1)/2 conflicts in all. After a loss
        the rest are tried in random order: the other claimers read the same candidates and
        go for the oldest too, so in order each would lose to every earlier one again (on a
        slow store, whose writes queue, most of its claims)."""
        store = self._store
        method = offer.request_method
        group = None if method is None else records.claim_group(method)
        limit = CLAIM_BATCH
        while True:
            batch = list(
                await store._call(
                    backend.claimable(owner, group=group, limit=limit, now_ms=store._now())
                )
            )
            full = len(batch) == limit
            batch.reverse()  # popped from the end: oldest first
            tried = False
            while batch:
                rec = batch.pop()
                task = records.decode(rec.data, owner)
                if not offer.takes(task):
                    continue  # another method with the same group hash, or another subject
                tried = True
                try:
                    return await store._write(
                        rec, task, lambda t, now: grant(t, worker_id, duration, now)
                    )
                except (backend_errors.VersionConflict, backend_errors.RecordMissing):
                    random.shuffle(batch)
                    continue
            if not tried:
                if offer.subject is None or not full:
                    return None
                # Only other subjects' tasks: look further (claimable tasks are active ones,
                # so the owner's quota bounds this).
                limit *= 2
            # Every candidate was lost: the index has moved on, read it again.

    async def renew(
        self,
        owner: str,
        task_id: str,
        *,
        fencing_token: int,
        lease_ms: int | None,
        status_message: str | None,
        subject: Subject = None,
    ) -> Task:
        store = self._store
        self._indexed()
        if fencing_token < 1:
            raise InvalidArgument("fencing_token", "is required (the lease's fencing_token)")
        if lease_ms is not None:
            validation.check_lease_duration(lease_ms, store.limits)
        if status_message is not None:
            validation.check_text("status_message", status_message, store.limits)
        return await self._after_pending_expiry(
            owner,
            task_id,
            lambda t, now: apply_renewal(t, fencing_token, lease_ms, status_message, now),
            subject,
        )

    async def expire(self, owner: str, task_id: str) -> Task | None:
        """Applies the policy if the lease has ended; None when nothing was due (another
        replica or path did it first, it was renewed, or the task is gone)."""
        try:
            return await self._store._mutate(owner, task_id, None, apply_expiry)
        except (NotDue, TaskNotFound):
            return None

    async def expire_due(self) -> int:
        """The backstop: every lease past its end, any owner, in random order so that
        replicas sweeping together mostly start on different tasks."""
        backend = self._store.backend
        if not has_feature(backend, Feature.INDEXES):
            return 0
        total = 0
        batch = self._store.sweep_batch  # the expiry sweep's batch: one knob for both sweeps
        while True:
            now = self._store._now()
            due = await self._store._call(backend.due_leases(now, batch))
            random.shuffle(due)
            done = 0
            for owner, task_id in due:
                if await self.expire(owner, task_id) is not None:
                    done += 1
            total += done
            # Stop on a short batch, or when a lagging index gave nothing to do.
            if len(due) < batch or done == 0:
                return total

    async def close(self) -> None:
        await self.timers.close()


class _Offer:
    """What a claim-next may take: offered tasks of its method (if any) and subject (if any)."""

    def __init__(self, request_method: str | None, subject: Subject) -> None:
        self.request_method = request_method
        self.subject = subject

    def takes(self, task: Task) -> bool:
        return offered(task, self.request_method) and scope.visible(task, self.subject)


async def _next_offer(watcher: OwnerWatcher, offer: _Offer) -> None:
    """Returns once a change may have offered a task to this claimer."""
    while True:
        if offer.takes(await watcher.next()):
            return
