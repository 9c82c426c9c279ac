"""TaskStore: every domain rule of taskstate, over any Backend.

State machine, frozen terminal tasks, variable merge, limits, owner isolation,
expiry-as-not-found, idempotent create and compare-and-swap all live here and
only here, so every backend behaves the same. Plain Python: no gRPC, no
protobuf, no database code.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TypeVar

from ..backends import base as backend_errors
from ..backends.base import Backend, Feature, Record, has_feature
from . import ids, inputs, leases, records, scope, transitions, validation, wire
from .errors import (
    BackendUnavailable,
    InvalidArgument,
    QuotaExceeded,
    TaskNotFound,
    TaskStoreError,
    UnsupportedByStore,
    VariablesTooLarge,
    VersionMismatch,
)
from .feed import Feed, read_head
from .model import (
    JSON,
    TERMINAL_STATUSES,
    UNSET,
    LeasePolicy,
    Limits,
    Page,
    Task,
    TaskError,
    TaskPatch,
    TaskStatus,
    _Unset,
)
from .paging import decode_page_token, encode_page_token
from .scope import Subject
from .watch import ChangeHub, OwnerStream, OwnerWatch

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
SWEEP_BATCH = 500


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class ByteBudget:
    """Caps a list page by size: the caller (the transport) measures each task as it
    will send it, so the domain needs no knowledge of the wire format."""

    max_bytes: int
    size_of: Callable[[Task], int]


class TaskStore:
    """The domain layer. Every method takes the authenticated `owner` first, and a
    `subject` (domain/scope.py): None sees all of the owner's tasks, a subject only its own."""

    def __init__(
        self,
        backend: Backend,
        limits: Limits | None = None,
        clock: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self.backend = backend
        self.limits = limits or Limits()
        if backend.max_record_bytes is not None:
            # Leave room for the rest of the record beside the variables.
            cap = max(1024, backend.max_record_bytes - 16 * 1024)
            if cap < self.limits.max_variables_bytes:
                self.limits = _replace_limits(self.limits, max_variables_bytes=cap)
        active_cap = backend.max_active_limit
        if active_cap is not None and active_cap < self.limits.max_active_tasks:
            self.limits = _replace_limits(self.limits, max_active_tasks=active_cap)
        self._clock = clock
        self.sweep_batch = SWEEP_BATCH
        """The `limit` of each backend.sweep_expired call (a test lowers it to prove the
        loop over batches without creating hundreds of tasks on a slow store)."""
        self._ids = ids.TaskIdGenerator()
        self._hub = ChangeHub(clock)
        backend.subscribe(self._hub.on_change, self._hub.on_resync)
        self._leases = leases.Leases(self)
        self._feed: Feed | None = None
        if has_feature(backend, Feature.EVENT_LOG):
            backend.set_feed_retention(self.limits.feed_retention_ms)
            self._feed = Feed(self._hub, backend, clock, self.limits.feed_retention_ms)

    # -- helpers ---------------------------------------------------------

    def _now(self) -> int:
        return self._clock()

    async def _call(self, op: Awaitable[T]) -> T:
        """Awaits a backend operation, mapping unreachable databases to the domain error."""
        try:
            return await op
        except backend_errors.DatabaseUnavailable as exc:
            raise BackendUnavailable(f"the store is unavailable: {exc}") from exc

    async def _load(self, owner: str, task_id: str, subject: Subject = None) -> Task:
        return (await self._load_record(owner, task_id, subject))[1]

    async def _load_record(
        self, owner: str, task_id: str, subject: Subject = None
    ) -> tuple[Record, Task]:
        """The task, if `subject` may see it; another subject's task is not found."""
        ids.validate_task_id(task_id)
        scope.check(subject)
        now = self._now()
        rec = await self._call(self.backend.get(owner, task_id, now))
        if rec is None:
            raise TaskNotFound(task_id)
        task = records.decode(rec.data, owner)
        if not scope.visible(task, subject):
            raise TaskNotFound(task_id)
        return rec, task

    def _record(self, task: Task) -> Record:
        """The record to write; refuses a task too large to store or to read back."""
        data = records.encode(task)
        max_bytes = self.backend.max_record_bytes
        if max_bytes is not None and len(data) > max_bytes:
            raise VariablesTooLarge(
                f"the task record is {len(data)} bytes, over this store's item limit of {max_bytes}"
            )
        wire.check_task_size(task, len(data))
        return Record(
            owner=task.owner,
            task_id=task.task_id,
            version=task.version,
            data=data,
            active=not task.status.terminal,
            expire_at_ms=task.expire_time_ms,
            request_id=scope.request_key(task.request_id, task.subject),
            status=task.status.value,
            lease_until_ms=None if task.lease is None else task.lease.expire_time_ms,
            claim_group=_claim_group(task),
            subject=task.subject,
        )

    def _next_update_time(self, task: Task) -> int:
        # update_time must change on every committed write, even within one millisecond.
        return max(self._now(), task.update_time_ms + 1)

    async def _mutate(
        self,
        owner: str,
        task_id: str,
        expected_version: int | None,
        change: Callable[[Task, int], Task],
        *,
        fencing_token: int | None = None,
        subject: Subject = None,
    ) -> Task:
        """Read, check, apply `change` (given the write's timestamp), compare-and-swap.

        Checks in order: the task exists, the fence (`fencing_token`: this lease is live),
        the expected version. Without an expected version a concurrent write is retried
        transparently; with one it is ABORTED, except that a fenced write re-reads first,
        so a lost lease is reported as such."""
        if expected_version is not None and expected_version < 1:
            raise InvalidArgument("expected_version", "must be >= 1")
        while True:
            stored, current = await self._load_record(owner, task_id, subject)
            if fencing_token is not None:
                leases.check_fence(current, fencing_token, self._now())
            if expected_version is not None and current.version != expected_version:
                raise VersionMismatch(expected_version, current.version)
            try:
                return await self._write(stored, current, change)
            except backend_errors.RecordMissing:
                raise TaskNotFound(task_id) from None
            except backend_errors.VersionConflict as exc:
                if expected_version is not None and fencing_token is None:
                    raise VersionMismatch(expected_version, exc.actual) from None

    async def _write(
        self, stored: Record, current: Task, change: Callable[[Task, int], Task]
    ) -> Task:
        """ONE compare-and-swap of `change(current)` at the version read (`stored`); raises
        the backend's VersionConflict and RecordMissing. A change that returns `current`
        itself writes nothing."""
        # One clock reading per write: update_time and any renewed expire_time agree.
        now_ms = self._next_update_time(current)
        changed = change(current, now_ms)
        if changed is current:
            return current
        updated = leases.settle(_with(changed, version=current.version + 1, update_time_ms=now_ms))
        rec = self._record(updated)
        try:
            await self._call(
                self.backend.compare_and_swap(
                    rec, expected_version=current.version, now_ms=self._now(), previous=stored
                )
            )
        except backend_errors.RecordTooLarge as exc:
            raise VariablesTooLarge(str(exc) or "the task record is too large") from None
        self._leases.timers.track(updated)
        return updated

    def _ttl(self, ttl_ms: int | None) -> int:
        if ttl_ms is None:
            return self.limits.default_ttl_ms
        return validation.check_ttl(ttl_ms, self.limits)

    # -- RPCs ------------------------------------------------------------

    async def create(
        self,
        owner: str,
        *,
        ttl_ms: int | None = None,
        poll_interval_ms: int | None = None,
        request_method: str = "",
        variables: dict[str, JSON] | None = None,
        request_id: str | None = None,
        lease_policy: LeasePolicy = LeasePolicy.UNSPECIFIED,
        max_attempts: int = 0,
        subject: Subject = None,
    ) -> Task:
        """Creates a task in `working`, version 1. `ttl_ms=None` means the default ttl;
        `max_attempts` 0 the default (with LeasePolicy.RELEASE only). The task belongs to
        `subject`; a request_id retry finds only a task of the same owner and subject."""
        scope.check(subject)
        ttl = self._ttl(ttl_ms)
        attempts = validation.check_max_attempts(max_attempts, lease_policy, self.limits)
        poll = validation.check_poll_interval(poll_interval_ms, self.limits)
        validation.check_text("request_method", request_method, self.limits)
        if request_id is not None:
            validation.check_request_id(request_id, self.limits)
        merged = validation.merge_variables({}, variables or {}, self.limits)
        now = self._now()
        task_id, create_ms = self._ids.new(now)
        task = Task(
            task_id=task_id,
            owner=owner,
            status=TaskStatus.WORKING,
            version=1,
            create_time_ms=create_ms,
            update_time_ms=create_ms,
            request_method=request_method,
            ttl_ms=ttl,
            expire_time_ms=create_ms + ttl,
            poll_interval_ms=poll,
            variables=merged,
            request_id=request_id,
            lease_policy=lease_policy,
            max_attempts=attempts,
            subject=subject or "",
        )
        rec = self._record(task)
        try:
            stored, _ = await self._call(
                self.backend.create(
                    rec,
                    request_id=rec.request_id,
                    max_active=self.limits.max_active_tasks,
                    now_ms=now,
                )
            )
        except backend_errors.QuotaFull:
            raise QuotaExceeded(
                f"owner already has {self.limits.max_active_tasks} active tasks"
            ) from None
        except backend_errors.RecordTooLarge as exc:
            raise VariablesTooLarge(str(exc) or "the task record is too large") from None
        return records.decode(stored.data, owner)

    async def get(self, owner: str, task_id: str, *, subject: Subject = None) -> Task:
        return await self._load(owner, task_id, subject)

    async def list(
        self,
        owner: str,
        *,
        page_size: int = 0,
        page_token: str = "",
        statuses: Collection[TaskStatus] = (),
        budget: ByteBudget | None = None,
        subject: Subject = None,
    ) -> Page:
        """Newest first. Tokens are keyset cursors, so they stay valid while tasks are added.

        A `budget` also ends the page before the task that would take it over its bytes;
        the page still holds at least one task when any is left, and its token
        continues right after the last task it holds."""
        if page_size < 0:
            raise InvalidArgument("page_size", "must be >= 0")
        scope.check(subject)
        size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        wanted = frozenset(statuses)
        cursor = decode_page_token(page_token, wanted) if page_token else None
        resume_cursor = ""
        if not page_token and has_feature(self.backend, Feature.EVENT_LOG):
            # Read before the page: a watch from here misses nothing the page lacks.
            resume_cursor = await read_head(self.backend, owner, self._now())
        indexed = bool(wanted) and has_feature(self.backend, Feature.INDEXES)
        # Filtered here (another subject's tasks, or statuses without an index): read ahead.
        read_ahead = subject is not None or (bool(wanted) and not indexed)
        out: list[Task] = []
        used = 0
        more = False
        while True:
            now = self._now()
            # A scan filtered here reads ahead; an index returns only matches.
            batch_size = max(size + 1, 100) if read_ahead else size + 1 - len(out)
            batch = await self._call(self._list_batch(owner, wanted, cursor, batch_size, now))
            for rec in batch:
                task = records.decode(rec.data, owner)
                if (wanted and task.status not in wanted) or not scope.visible(task, subject):
                    cursor = task.task_id
                    continue
                if len(out) == size:
                    more = True
                    break
                if budget is not None:
                    used += budget.size_of(task)
                    if out and used > budget.max_bytes:
                        more = True
                        break
                out.append(task)
                cursor = task.task_id
            if more or len(batch) < batch_size:
                break
        token = encode_page_token(out[-1].task_id, wanted) if more and out else ""
        return Page(out, token, resume_cursor)

    def _list_batch(
        self, owner: str, wanted: frozenset[TaskStatus], before: str | None, limit: int, now: int
    ) -> Awaitable[Sequence[Record]]:
        """The next records of a listing: from the status index when the store has one."""
        backend = self.backend
        if wanted and has_feature(backend, Feature.INDEXES):
            names = frozenset(s.value for s in wanted)
            return backend.list_by_status(
                owner, names, before_task_id=before, limit=limit, now_ms=now
            )
        return backend.list(owner, before_task_id=before, limit=limit, now_ms=now)

    async def update_status(
        self,
        owner: str,
        task_id: str,
        status: TaskStatus | None,
        status_message: str = "",
        expected_version: int | None = None,
        fencing_token: int | None = None,
        *,
        input_requests: dict[str, JSON] | None = None,
        subject: Subject = None,
    ) -> Task:
        """A transition; to input_required it may add `input_requests` (domain/inputs.py)."""
        target = validation.require_status(status)
        validation.check_text("status_message", status_message, self.limits)
        requests = input_requests or {}
        inputs.check_requests(requests, target, self.limits)

        def change(t: Task, now_ms: int) -> Task:
            return inputs.update_status(t, target, status_message, requests, self.limits)

        return await self._mutate(
            owner, task_id, expected_version, change, fencing_token=fencing_token, subject=subject
        )

    async def set_variables(
        self,
        owner: str,
        task_id: str,
        variables: dict[str, JSON],
        expected_version: int | None = None,
        fencing_token: int | None = None,
        *,
        subject: Subject = None,
    ) -> Task:
        validation.check_variable_values(variables, self.limits)

        def change(t: Task, now_ms: int) -> Task:
            transitions.check_mutable(t)
            return _with(
                t, variables=validation.merge_variables(t.variables, variables, self.limits)
            )

        return await self._mutate(
            owner, task_id, expected_version, change, fencing_token=fencing_token, subject=subject
        )

    async def put_if_version(
        self,
        owner: str,
        task_id: str,
        expected_version: int,
        patch: TaskPatch,
        fencing_token: int | None = None,
        *,
        subject: Subject = None,
    ) -> Task:
        validation.check_patch(patch, self.limits)
        if expected_version < 1:
            raise InvalidArgument("expected_version", "is required and must be >= 1")

        def change(t: Task, now_ms: int) -> Task:
            transitions.check_mutable(t)
            fields: dict[str, object] = {}
            if "status" in patch.mask and patch.status is not None:
                # A masked status is a transition: re-stating the current one is illegal.
                transitions.check(t, patch.status)
                fields["status"] = patch.status
            if "status_message" in patch.mask:
                fields["status_message"] = patch.status_message
            if "variables" in patch.mask:
                fields["variables"] = validation.merge_variables({}, patch.variables, self.limits)
            if "result" in patch.mask:
                fields["result"] = patch.result
            if "error" in patch.mask:
                fields["error"] = patch.error
            if "poll_interval" in patch.mask:
                fields["poll_interval_ms"] = validation.check_poll_interval(
                    patch.poll_interval_ms, self.limits
                )
            if "ttl" in patch.mask:
                # docs/design.md §4.4: an unset ttl means the task never expires.
                fields["ttl_ms"] = patch.ttl_ms
                fields["expire_time_ms"] = None if patch.ttl_ms is None else now_ms + patch.ttl_ms
            return _with(t, **fields)

        return await self._mutate(
            owner, task_id, expected_version, change, fencing_token=fencing_token, subject=subject
        )

    async def complete(
        self,
        owner: str,
        task_id: str,
        *,
        status: TaskStatus | None,
        status_message: str = "",
        result: JSON | _Unset = UNSET,
        error: TaskError | None = None,
        variables: dict[str, JSON] | None = None,
        expected_version: int | None = None,
        fencing_token: int | None = None,
        subject: Subject = None,
    ) -> Task:
        if status not in (TaskStatus.COMPLETED, TaskStatus.FAILED):
            raise InvalidArgument(
                "status", "CompleteTask takes TASK_STATUS_COMPLETED or TASK_STATUS_FAILED"
            )
        assert status is not None
        validation.check_text("status_message", status_message, self.limits)
        validation.check_result(result, error, self.limits)
        new_vars = variables or {}
        validation.check_variable_values(new_vars, self.limits)

        def change(t: Task, now_ms: int) -> Task:
            transitions.check(t, status)
            return _with(
                t,
                status=status,
                status_message=status_message,
                result=result,
                error=error,
                variables=validation.merge_variables(t.variables, new_vars, self.limits),
            )

        return await self._mutate(
            owner, task_id, expected_version, change, fencing_token=fencing_token, subject=subject
        )

    async def cancel(
        self, owner: str, task_id: str, status_message: str = "", *, subject: Subject = None
    ) -> Task:
        validation.check_text("status_message", status_message, self.limits)

        def change(t: Task, now_ms: int) -> Task:
            transitions.check(t, TaskStatus.CANCELLED)
            return _with(t, status=TaskStatus.CANCELLED, status_message=status_message)

        return await self._mutate(owner, task_id, None, change, subject=subject)

    async def provide_input(
        self,
        owner: str,
        task_id: str,
        responses: dict[str, JSON],
        *,
        subject: Subject = None,
    ) -> tuple[Task, Sequence[str]]:
        """Records responses to outstanding requests: (the task, the keys accepted, sorted).
        Not fenced, and the lease is kept; nothing accepted writes nothing."""
        inputs.check_responses(responses, self.limits)
        accepted: Sequence[str] = ()

        def change(t: Task, now_ms: int) -> Task:
            nonlocal accepted
            changed, accepted = inputs.provide(t, responses, self.limits)
            return changed

        task = await self._mutate(owner, task_id, None, change, subject=subject)
        return task, accepted

    async def request_cancel(self, owner: str, task_id: str, *, subject: Subject = None) -> Task:
        """Sets cancel_requested (the worker decides what to do); idempotent, not fenced."""
        return await self._mutate(
            owner, task_id, None, lambda t, now_ms: inputs.request_cancel(t), subject=subject
        )

    async def delete(self, owner: str, task_id: str, *, subject: Subject = None) -> None:
        ids.validate_task_id(task_id)
        if subject is not None:
            # A task's subject never changes: checked once, the delete below stays right.
            await self._load(owner, task_id, subject)
        now = self._now()
        if not await self._call(self.backend.delete(owner, task_id, now)):
            raise TaskNotFound(task_id)

    async def wait(
        self,
        owner: str,
        task_id: str,
        *,
        timeout_s: float,
        statuses: Collection[TaskStatus] = (),
        subject: Subject = None,
    ) -> Task:
        """The task once its status is in `statuses` (default: terminal), or the
        current task when `timeout_s` passes first."""
        wanted = frozenset(statuses) or TERMINAL_STATUSES
        ids.validate_task_id(task_id)
        # The clock starts before the first read: a slow store spends the timeout too,
        # so WaitTask still answers before the call's deadline it was derived from.
        deadline = asyncio.get_running_loop().time() + max(0.0, timeout_s)
        with self._hub.task_watcher(owner, task_id) as watcher:
            task = await self._load(owner, task_id, subject)
            # A terminal task can no longer reach another status: no point waiting.
            while task.status not in wanted and not task.status.terminal:
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    break
                update = await watcher.next(remaining, task.expire_time_ms)
                if update is None:  # timed out
                    break
                if update.deleted:
                    raise TaskNotFound(task_id)
                if update.resync:
                    task = await self._load(owner, task_id, subject)
                elif update.task is not None and update.task.version > task.version:
                    task = update.task
            return task

    async def watch(
        self, owner: str, task_id: str, after_version: int = 0, *, subject: Subject = None
    ) -> AsyncIterator[Task]:
        """Versions > after_version in increasing order, ending after the terminal one.

        Raises TaskNotFound when the task is deleted or expires.
        """
        ids.validate_task_id(task_id)
        with self._hub.task_watcher(owner, task_id) as watcher:
            task = await self._load(owner, task_id, subject)
            last = after_version
            while True:
                if task.version > last:
                    last = task.version
                    yield task
                if task.status.terminal:
                    return
                update = await watcher.next(None, task.expire_time_ms)
                if update is None:
                    continue
                if update.deleted:
                    raise TaskNotFound(task_id)
                if update.resync:
                    task = await self._load(owner, task_id, subject)
                elif update.task is not None and update.task.version > task.version:
                    task = update.task

    async def watch_all(
        self,
        owner: str,
        statuses: Collection[TaskStatus] = (),
        *,
        resume_cursor: str = "",
        all_events: bool = False,
        subject: Subject = None,
    ) -> OwnerStream:
        """The owner's changes from `resume_cursor` (else from now), as `FeedMessage`s.

        On a store with an event log every message carries a cursor, and with
        `all_events` (implied by a cursor) deletions, expiries and PROGRESS come too
        (domain/feed.py). The stream is positioned before this returns, so a caller
        that then lists tasks misses nothing in between. Close it (or `async with`).
        """
        wanted = frozenset(statuses)
        scope.check(subject)
        if self._feed is not None:
            return await self._feed.watch(owner, wanted, resume_cursor, all_events, subject)
        if resume_cursor or all_events:
            raise UnsupportedByStore(
                "this server's store keeps no event log: WatchTasks takes neither "
                "resume_cursor nor all_events"
            )
        return OwnerWatch(self._hub, owner, wanted, subject)

    async def claim(
        self,
        owner: str,
        *,
        worker_id: str,
        task_id: str | None = None,
        lease_ms: int | None = None,
        request_method: str | None = None,
        wait_s: float = 0.0,
        subject: Subject = None,
    ) -> Task | None:
        """Leases `task_id`, or the oldest offered task (of `request_method`, if given),
        waiting up to `wait_s` for one; None when nothing could be claimed."""
        return await self._leases.claim(
            owner,
            worker_id=worker_id,
            task_id=task_id,
            lease_ms=lease_ms,
            request_method=request_method,
            wait_s=wait_s,
            subject=subject,
        )

    async def renew(
        self,
        owner: str,
        task_id: str,
        *,
        fencing_token: int,
        lease_ms: int | None = None,
        status_message: str | None = None,
        subject: Subject = None,
    ) -> Task:
        """Extends the lease `fencing_token` names (`lease_ms` None: its last duration)."""
        return await self._leases.renew(
            owner,
            task_id,
            fencing_token=fencing_token,
            lease_ms=lease_ms,
            status_message=status_message,
            subject=subject,
        )

    async def expire_lease(self, owner: str, task_id: str) -> Task | None:
        """Applies the lease policy if the task's lease has ended; None if nothing was due."""
        return await self._leases.expire(owner, task_id)

    async def expire_due_leases(self) -> int:
        """The lease sweeper's pass over every owner (stores with Feature.INDEXES)."""
        return await self._leases.expire_due()

    async def sweep_expired(self) -> int:
        """Removes expired tasks where the database does not do it itself."""
        now = self._now()
        total = 0
        while True:
            n = await self._call(self.backend.sweep_expired(now, self.sweep_batch))
            total += n
            if n < self.sweep_batch:
                return total

    async def ping(self) -> None:
        await self._call(self.backend.ping())

    async def close(self) -> None:
        await self._leases.close()
        if self._feed is not None:
            self._feed.close()
        self._hub.close()
        await self.backend.close()


def _with(task: Task, **changes: object) -> Task:
    from dataclasses import replace

    return replace(task, **changes)  # type: ignore[arg-type]


def _replace_limits(limits: Limits, **changes: int) -> Limits:
    from dataclasses import replace

    return replace(limits, **changes)


__all__ = ["TaskStore", "TaskStoreError"]


def _claim_group(task: Task) -> str | None:
    """Only working, unleased tasks created with a lease policy are offered to claimers."""
    if (
        task.status is TaskStatus.WORKING
        and task.lease is None
        and task.lease_policy is not LeasePolicy.UNSPECIFIED
    ):
        return records.claim_group(task.request_method)
    return None
