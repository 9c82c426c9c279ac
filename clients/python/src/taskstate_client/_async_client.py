"""The asyncio client on grpc.aio: the twin of TaskClient, method for method."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, Self, TypeAlias, overload

import grpc
from taskstate.v1 import taskstate_pb2_grpc as pb_grpc

from taskstate_client import _requests as rq
from taskstate_client._config import DEFAULT_TIMEOUT, TLS, Timeout, resolve
from taskstate_client._convert import task_from_proto
from taskstate_client._duration import Seconds
from taskstate_client._errors import error_from_parts, error_from_rpc
from taskstate_client._json import JSON
from taskstate_client._retry import DEFAULT_UPDATE_RETRY, DEFAULT_WATCH_RETRY, RetryPolicy
from taskstate_client._sentinel import DEFAULT, MISSING, Missing
from taskstate_client._views import ClientViews
from taskstate_client._watch import (
    FeedCursor,
    WatchCursor,
    compacted,
    event_from_proto,
    resumable,
)
from taskstate_client.errors import TaskStateError, UnavailableError, VersionMismatchError
from taskstate_client.models import (
    InputAccepted,
    LeasePolicy,
    Task,
    TaskError,
    TaskEvent,
    TaskPage,
    TaskStatus,
    TaskView,
)

AsyncUpdateFn: TypeAlias = Callable[
    [dict[str, JSON]],
    Mapping[str, JSON] | Awaitable[Mapping[str, JSON] | None] | None,
]
"""update()'s function: plain or async, mutating its argument or returning new variables."""


class AsyncTaskClient(ClientViews):
    """Talks to a taskstate server from asyncio code.

    Same arguments, defaults and TLS rule as TaskClient (TASKSTATE_ADDRESS,
    TASKSTATE_TOKEN, TASKSTATE_TLS... from the environment). Create it inside the event loop
    that will use it: grpc.aio channels are bound to one loop.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        token: str | None = None,
        tls: TLS = None,
        timeout: Seconds | None = DEFAULT_TIMEOUT,
        options: Sequence[tuple[str, Any]] | None = None,
        update_retry: RetryPolicy = DEFAULT_UPDATE_RETRY,
        watch_retry: RetryPolicy = DEFAULT_WATCH_RETRY,
        subject: str | None = None,
    ) -> None:
        self._settings = resolve(address, token, tls, timeout, options, subject)
        options_list = list(self._settings.options)
        if self._settings.credentials is None:
            self._channel: Any = grpc.aio.insecure_channel(
                self._settings.address, options=options_list
            )
        else:
            self._channel = grpc.aio.secure_channel(
                self._settings.address, self._settings.credentials, options=options_list
            )
        self._stub: Any = pb_grpc.TaskServiceStub(self._channel)
        self._update_retry = update_retry
        self._watch_retry = watch_retry

    @classmethod
    async def connect(
        cls,
        address: str | None = None,
        *,
        token: str | None = None,
        tls: TLS = None,
        timeout: Seconds | None = DEFAULT_TIMEOUT,  # noqa: ASYNC109 - the client's default deadline
        options: Sequence[tuple[str, Any]] | None = None,
        update_retry: RetryPolicy = DEFAULT_UPDATE_RETRY,
        watch_retry: RetryPolicy = DEFAULT_WATCH_RETRY,
        subject: str | None = None,
    ) -> Self:
        """Like the constructor, but fails fast (UnavailableError) if the server is unreachable."""
        client = cls(
            address,
            token=token,
            tls=tls,
            timeout=timeout,
            options=options,
            update_retry=update_retry,
            watch_retry=watch_retry,
            subject=subject,
        )
        try:
            await asyncio.wait_for(client._channel.channel_ready(), client._settings.timeout)
        except TimeoutError:
            await client.close()
            raise UnavailableError(
                f"could not connect to {client.address}", code=grpc.StatusCode.UNAVAILABLE
            ) from None
        return client

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _unary(self, rpc: Any, request: Any, deadline: Timeout = DEFAULT) -> Any:
        try:
            return await rpc(
                request,
                timeout=self._settings.deadline(deadline),
                metadata=self._settings.metadata,
            )
        except grpc.RpcError as exc:
            raise error_from_rpc(exc) from exc

    # -- RPCs ---------------------------------------------------------------

    async def create(
        self,
        *,
        request_method: str = "",
        ttl: Seconds | None = None,
        poll_interval: Seconds | None = None,
        variables: rq.Variables | None = None,
        request_id: str | None = None,
        lease_policy: LeasePolicy | str | None = None,
        max_attempts: int = 0,
    ) -> Task:
        """Starts a task in `working`. ttl=None takes the server's default ttl.

        Give a request_id to make retries safe: the server returns the task it
        created first instead of creating another. A lease_policy offers the
        task to claim(); it says what a lease ending unrenewed does (FAIL, or
        RELEASE for another attempt, up to max_attempts: 0 is the server's default).
        """
        req = rq.create(
            ttl=ttl,
            poll_interval=poll_interval,
            request_method=request_method,
            variables=variables,
            request_id=request_id,
            lease_policy=lease_policy,
            max_attempts=max_attempts,
        )
        return task_from_proto((await self._unary(self._stub.CreateTask, req)).task)

    async def get(self, task_id: str) -> Task:
        req = rq.get(task_id)
        return task_from_proto((await self._unary(self._stub.GetTask, req)).task)

    async def list(
        self,
        *,
        page_size: int = 0,
        page_token: str = "",
        statuses: rq.StatusFilter = None,
        view: TaskView | str = TaskView.FULL,
    ) -> TaskPage:
        """One page of the caller's tasks, newest first; see iter_tasks() for all of them.

        A page may hold fewer than page_size tasks (the server cuts pages under
        4 MiB) and still not be the last: only an empty next_page_token ends.
        view=TaskView.BASIC leaves out variables, result and error.
        """
        req = rq.list_tasks(page_size, page_token, statuses, view)
        resp = await self._unary(self._stub.ListTasks, req)
        return TaskPage(
            [task_from_proto(t) for t in resp.tasks], resp.next_page_token, resp.resume_cursor
        )

    async def iter_tasks(
        self,
        *,
        statuses: rq.StatusFilter = None,
        page_size: int = 0,
        view: TaskView | str = TaskView.FULL,
    ) -> AsyncIterator[Task]:
        """Every task of the caller, following next_page_token to its end (short pages too)."""
        token = ""
        while True:
            page = await self.list(
                page_size=page_size, page_token=token, statuses=statuses, view=view
            )
            for task in page.tasks:
                yield task
            token = page.next_page_token
            if not token:
                return

    async def update_status(
        self,
        task_id: str,
        status: TaskStatus | str,
        message: str = "",
        *,
        expected_version: int | None = None,
        fencing_token: int | None = None,
        input_requests: rq.Variables | None = None,
    ) -> Task:
        """fencing_token: the write happens only while that lease is the task's live lease.

        input_requests (with status INPUT_REQUIRED only) are merged into the task's
        requests, each under a key unique over the task's lifetime (re-sending an
        identical request is fine): the requester answers them with provide_input().
        """
        req = rq.update_status(
            task_id, status, message, expected_version, fencing_token, input_requests
        )
        return task_from_proto((await self._unary(self._stub.UpdateTaskStatus, req)).task)

    async def set_variables(
        self,
        task_id: str,
        variables: rq.Variables,
        *,
        expected_version: int | None = None,
        fencing_token: int | None = None,
    ) -> Task:
        """Merges: each key is set, a None value deletes the key, other keys stay."""
        req = rq.set_variables(task_id, variables, expected_version, fencing_token)
        return task_from_proto((await self._unary(self._stub.SetVariables, req)).task)

    async def put_if_version(
        self,
        task_id: str,
        expected_version: int,
        *,
        status: TaskStatus | str | Missing = MISSING,
        status_message: str | Missing = MISSING,
        variables: rq.Variables | Missing = MISSING,
        result: JSON | Missing = MISSING,
        error: TaskError | Missing | None = MISSING,
        ttl: Seconds | Missing | None = MISSING,
        poll_interval: Seconds | Missing | None = MISSING,
        fencing_token: int | None = None,
    ) -> Task:
        """Compare-and-swap: writes exactly the fields given, if the task is still at that version.

        `variables` replaces the whole map; `ttl` renews expire_time from now
        (None: never expires); error=None clears the error; result=None
        stores JSON null. Raises VersionMismatchError when someone wrote first.
        """
        req = rq.put_if_version(
            task_id,
            expected_version,
            status=status,
            status_message=status_message,
            variables=variables,
            result=result,
            error=error,
            ttl=ttl,
            poll_interval=poll_interval,
            fencing_token=fencing_token,
        )
        return task_from_proto((await self._unary(self._stub.PutIfVersion, req)).task)

    async def complete(
        self,
        task_id: str,
        result: JSON | Missing = MISSING,
        *,
        message: str = "",
        variables: rq.Variables | None = None,
        expected_version: int | None = None,
        fencing_token: int | None = None,
    ) -> Task:
        """Completes the task with its result (and final variables) in one atomic write."""
        req = rq.complete(task_id, result, message, variables, expected_version, fencing_token)
        return task_from_proto((await self._unary(self._stub.CompleteTask, req)).task)

    async def fail(
        self,
        task_id: str,
        message: str,
        *,
        code: int = rq.DEFAULT_FAIL_CODE,
        data: JSON | Missing = MISSING,
        status_message: str | None = None,
        result: JSON | Missing = MISSING,
        variables: rq.Variables | None = None,
        expected_version: int | None = None,
        fencing_token: int | None = None,
    ) -> Task:
        """Fails the task with a JSON-RPC shaped error; status_message defaults to `message`."""
        req = rq.fail(
            task_id,
            message,
            code,
            data,
            status_message,
            result,
            variables,
            expected_version,
            fencing_token,
        )
        return task_from_proto((await self._unary(self._stub.CompleteTask, req)).task)

    async def claim(
        self,
        task_id: str | None = None,
        *,
        worker_id: str,
        lease: Seconds | None = None,
        request_method: str | None = None,
        wait: Seconds | None = None,
    ) -> Task | None:
        """Takes a lease on the task named, or on the oldest claimable one (task_id None).

        Returns the task with its `lease` (pass `lease.fencing_token` on writes), or
        None when nothing could be claimed. Without task_id, `request_method`
        narrows the candidates and `wait` waits for one to appear. lease=None takes
        the server's default. Raises LeaseHeldError if another worker holds it.
        """
        req = rq.claim(task_id, worker_id, lease, request_method, wait)
        deadline = rq.claim_deadline(wait, self._settings.timeout)
        resp = await self._unary(self._stub.ClaimTask, req, deadline)
        return task_from_proto(resp.task) if resp.HasField("task") else None

    async def renew_lease(
        self,
        task_id: str,
        fencing_token: int,
        *,
        lease: Seconds | None = None,
        status_message: str | None = None,
    ) -> Task:
        """Extends a held lease from now (lease=None: by its current duration), a heartbeat.

        A status_message is written in the same write. Raises LeaseLostError when
        the lease is no longer the task's live lease: stop working on it.
        """
        req = rq.renew_lease(task_id, fencing_token, lease, status_message)
        return task_from_proto((await self._unary(self._stub.RenewLease, req)).task)

    async def provide_input(self, task_id: str, responses: rq.Variables) -> InputAccepted:
        """Answers outstanding input requests of the task, by key.

        Keys without an outstanding request (never asked, already answered) are
        ignored, so answers are recorded once and a retry is harmless; see
        `accepted_keys`. When the last outstanding request is answered, an
        input_required task moves back to working in the same write. Not fenced:
        this is the requester's call.
        """
        req = rq.provide_input(task_id, responses)
        resp = await self._unary(self._stub.ProvideInput, req)
        return InputAccepted(task_from_proto(resp.task), list(resp.accepted_keys))

    async def request_cancel(self, task_id: str) -> Task:
        """Asks the task's worker to stop: sets `cancel_requested` (idempotent).

        Unlike cancel(), the task stays as it is (a worker may still be writing
        to it): the worker sees the flag through its watch and cancels or
        finishes. A terminal task is returned unchanged.
        """
        req = rq.request_cancel(task_id)
        return task_from_proto((await self._unary(self._stub.RequestCancel, req)).task)

    async def cancel(self, task_id: str, message: str = "") -> Task:
        req = rq.cancel(task_id, message)
        return task_from_proto((await self._unary(self._stub.CancelTask, req)).task)

    async def delete(self, task_id: str) -> None:
        req = rq.delete(task_id)
        await self._unary(self._stub.DeleteTask, req)

    async def wait(
        self,
        task_id: str,
        timeout: Seconds | None = None,  # noqa: ASYNC109 - how long the server waits
        *,
        statuses: rq.StatusFilter = None,
    ) -> Task:
        """Waits until the task's status is in `statuses` (default: terminal) or `timeout` passes.

        Returns the task either way (look at its status), like a long-running
        operation; timeout=None waits as long as it takes. The wait is made
        of bounded server-side waits, so the client's default deadline does
        not cut it short.
        """
        plan = rq.WaitPlan.start(task_id, timeout, statuses, self._settings.timeout)
        while True:
            req, deadline = plan.next_call()
            resp = await self._unary(self._stub.WaitTask, req, deadline)
            task = plan.finished(resp.task)
            if task is not None:
                return task

    async def watch(
        self,
        task_id: str,
        after_version: int = 0,
        *,
        retry: RetryPolicy | None = None,
    ) -> AsyncGenerator[Task, None]:
        """Yields each new version of the task once, in order, ending after the terminal one.

        A dropped connection or a draining server is survived by reopening the
        stream from the last version seen (with backoff, bounded by `retry`):
        intermediate versions may be coalesced, the terminal version never is.
        Raises TaskNotFoundError if the task is deleted or expires. Leaving
        the loop early? Close the iterator (contextlib.aclosing) to end the
        stream at once rather than at garbage collection.
        """
        cursor = WatchCursor(task_id, after_version)
        policy = retry or self._watch_retry
        delays = policy.delays()
        while True:
            failure: Exception | None = None
            call = self._stub.WatchTask(cursor.request(), metadata=self._settings.metadata)
            try:
                async for resp in call:
                    task = cursor.accept(resp.task)
                    if task is None:
                        continue
                    delays = policy.delays()  # progress: the next outage gets a fresh budget
                    yield task
                    if cursor.done:
                        return
            except grpc.RpcError as exc:
                error = error_from_rpc(exc)
                if not resumable(error):
                    raise error from exc
                failure = error
            finally:
                call.cancel()
            if failure is None:
                # Clean end without a terminal version: either the task was
                # already terminal at or before after_version, or the server
                # closed politely. A read tells which.
                try:
                    current = cursor.offer(await self.get(task_id))
                except UnavailableError as err:
                    failure = err
                else:
                    if current is not None:  # newer than anything yielded: never skip it
                        delays = policy.delays()
                        yield current
                    if cursor.done:
                        return
            delay = next(delays, None)
            if delay is None:
                raise failure or UnavailableError(
                    "watch stream kept ending early", code=grpc.StatusCode.UNAVAILABLE
                )
            await asyncio.sleep(delay)

    @overload
    def watch_all(
        self,
        *,
        statuses: rq.StatusFilter = None,
        view: TaskView | str = TaskView.FULL,
        resume: Literal[False] = False,
        cursor: str = "",
        all_events: bool = False,
    ) -> AsyncTaskStream: ...
    @overload
    def watch_all(
        self,
        *,
        statuses: rq.StatusFilter = None,
        view: TaskView | str = TaskView.FULL,
        resume: Literal[True],
        cursor: str = "",
        retry: RetryPolicy | None = None,
    ) -> AsyncGenerator[TaskEvent, None]: ...
    def watch_all(
        self,
        *,
        statuses: rq.StatusFilter = None,
        view: TaskView | str = TaskView.FULL,
        resume: bool = False,
        cursor: str = "",
        retry: RetryPolicy | None = None,
        all_events: bool = False,
    ) -> AsyncTaskStream | AsyncGenerator[TaskEvent, None]:
        """Every change to any of the caller's tasks from now on, as an async iterator.

        resume=True yields TaskEvents instead (writes, deletions, expiries, each
        with the `cursor` that resumes after it) from `cursor` ("" = now), and
        survives anything: a dropped stream reopens from the last cursor, and a
        cursor the server no longer keeps (FEED_COMPACTED) turns into a RESET
        event and a WRITE per current task (a fresh listing), after which the
        feed continues from the listing's first page. Close it with
        contextlib.aclosing to end the stream at once. Without resume:

        `async with client.watch_all() as stream:` enters once the server has
        registered the watch (it sends the response headers only then), so the
        worker pattern "watch, then list, keep the highest version per task"
        misses nothing; without `async with`, `await stream.wait_ready()` does
        the same. It does not resume after a dropped connection (changes in
        the gap would be lost silently); re-run that pattern on
        UnavailableError instead. Iterating it yields the task of each write;
        `stream.events()` yields every message as a TaskEvent instead (its kind
        and cursor; with `all_events` or a `cursor`, also deletions, expiries
        and PROGRESS), from `cursor` if given (a FeedCompactedError when the
        server no longer keeps it), else from now.
        """
        if resume:
            return self._events(FeedCursor(statuses, view, cursor), retry or self._watch_retry)
        req = rq.watch_all(statuses, view, cursor, all_events)
        return AsyncTaskStream(self._stub.WatchTasks(req, metadata=self._settings.metadata))

    async def _events(
        self, feed: FeedCursor, policy: RetryPolicy
    ) -> AsyncGenerator[TaskEvent, None]:
        if not feed.cursor:  # "now" as a position, so even a first reconnect misses nothing
            first = await self.list(page_size=1, statuses=feed.statuses, view=TaskView.BASIC)
            feed.cursor = first.resume_cursor
        delays = policy.delays()
        while True:
            failure: TaskStateError | None = None
            call = self._stub.WatchTasks(feed.request(), metadata=self._settings.metadata)
            try:
                async for resp in call:
                    event = feed.accept(resp)
                    delays = policy.delays()  # progress: the next outage gets a fresh budget
                    if event is not None:
                        yield event
            except grpc.RpcError as exc:
                failure = error_from_rpc(exc)
                if compacted(failure):
                    for event in await self._relist(feed):
                        yield event
                    continue
                if not resumable(failure):
                    raise failure from exc
            finally:
                call.cancel()
            delay = next(delays, None)
            if delay is None:
                raise failure or UnavailableError(
                    "watch stream kept ending early", code=grpc.StatusCode.UNAVAILABLE
                )
            await asyncio.sleep(delay)

    async def _relist(self, feed: FeedCursor) -> Sequence[TaskEvent]:
        first = await self.list(statuses=feed.statuses, view=feed.view)
        tasks = [*first.tasks]
        token = first.next_page_token
        while token:
            page = await self.list(page_token=token, statuses=feed.statuses, view=feed.view)
            tasks.extend(page.tasks)
            token = page.next_page_token
        return feed.reset(first.resume_cursor, tasks)

    # -- compare-and-swap helper -------------------------------------------

    async def update(
        self,
        task_id: str,
        fn: AsyncUpdateFn,
        *,
        retry: RetryPolicy | None = None,
        fencing_token: int | None = None,
    ) -> Task:
        """Read-modify-write of the task's variables that never loses a concurrent update.

        fn (plain or async) receives a deep copy of the variables and either
        mutates it in place (returning None) or returns the new mapping; the
        result replaces the variables with PutIfVersion at the version read.
        If another writer got there first, the whole read-fn-write is retried
        with jittered exponential backoff, so fn may run several times and
        must not have side effects. If fn changes nothing, nothing is written.
        Raises VersionMismatchError when the retry budget runs out. A fencing_token
        makes each write fenced (LeaseLostError once the lease is gone).
        """
        policy = retry or self._update_retry
        delays = policy.delays()
        while True:
            task = await self.get(task_id)
            scratch = rq.scratch_copy(task)
            outcome = fn(scratch)
            if inspect.isawaitable(outcome):
                outcome = await outcome
            req = rq.plan_update(task, outcome, scratch, fencing_token)
            if req is None:
                return task
            try:
                resp = await self._unary(self._stub.PutIfVersion, req)
                return task_from_proto(resp.task)
            except VersionMismatchError:
                delay = next(delays, None)
                if delay is None:
                    raise
                await asyncio.sleep(delay)


class AsyncTaskStream:
    """An open WatchTasks stream: `async for` over it; close it (or `async with`) when done."""

    def __init__(self, call: Any) -> None:
        self._call = call
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[Task]:
        """The task of each write (other kinds are skipped). Iterate this or events(), once."""
        async for event in self.events():
            if event.task is not None:
                yield event.task

    async def events(self) -> AsyncIterator[TaskEvent]:
        """Every message as a TaskEvent until the stream ends; its error is raised typed."""
        try:
            async for resp in self._call:
                if (event := event_from_proto(resp)) is not None:
                    yield event
        except asyncio.CancelledError:
            if self._closed:
                return  # closed by us (grpc.aio reports our own cancel this way)
            raise
        except grpc.RpcError as exc:
            if self._closed:
                return
            raise error_from_rpc(exc) from exc

    async def wait_ready(self) -> None:
        """Returns once the server has registered the watch; raises if it refused it."""
        await self._call.initial_metadata()
        if self._call.done():
            code = await self._call.code()
            if code != grpc.StatusCode.OK:
                raise error_from_parts(
                    code, await self._call.details(), await self._call.trailing_metadata()
                )

    def close(self) -> None:
        self._closed = True
        self._call.cancel()

    async def __aenter__(self) -> Self:
        try:
            await self.wait_ready()
        except BaseException:
            self.close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
