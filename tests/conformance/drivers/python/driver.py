"""Conformance driver for the Python client (taskstate_client.AsyncTaskClient).

Reads one JSON request per line on stdin, calls the client, writes one JSON answer per line
(tests/conformance/README.md, "The driver protocol"). Every request runs as its own asyncio
task, so slow calls (waits, watches, parallel updates) never hold up the others. No matching
and no vector logic lives here: the engine sends expanded args and checks the answers.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from google.protobuf import field_mask_pb2, json_format
from google.rpc import error_details_pb2, status_pb2
from taskstate.v1 import taskstate_pb2 as pb
from taskstate.v1 import taskstate_pb2_grpc as pb_grpc
from taskstate_client import (
    MISSING,
    AsyncTaskClient,
    AsyncTaskStream,
    Lease,
    Task,
    TaskError,
    TaskEvent,
    TaskStateError,
    Worker,
)

CALL_TIMEOUT = 30.0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


class Failure(Exception):
    """Anything that is not a server status: answered as ``failure``."""


# -- views -------------------------------------------------------------------------------------


def task_view(task: Task) -> dict[str, Any]:
    """The protocol's task view of a client Task."""
    view: dict[str, Any] = {
        "task_id": task.task_id,
        "status": str(task.status.value),
        "status_message": task.status_message,
        "request_method": task.request_method,
        "version": task.version,
        "variables": task.variables,
        "create_time_ms": (task.create_time - _EPOCH) // _MS,
        "update_time_ms": (task.update_time - _EPOCH) // _MS,
    }
    if task.has_result:
        view["result"] = task.result
    if task.error is not None:
        view["error"] = task.error.to_dict()
    if task.ttl is not None:
        view["ttl_ms"] = task.ttl // _MS
    if task.poll_interval is not None:
        view["poll_interval_ms"] = task.poll_interval // _MS
    if task.expire_time is not None:
        view["expire_time_ms"] = (task.expire_time - _EPOCH) // _MS
    if task.lease is not None:
        view["lease"] = lease_view(task.lease)
    if task.lease_policy is not None:
        view["lease_policy"] = str(task.lease_policy.value)
    view["max_attempts"] = task.max_attempts
    view["attempt"] = task.attempt
    view["subject"] = task.subject
    view["input_requests"] = task.input_requests
    view["input_responses"] = task.input_responses
    view["cancel_requested"] = task.cancel_requested
    return view


def lease_view(lease: Lease) -> dict[str, Any]:
    return {
        "worker_id": lease.worker_id,
        "fencing_token": lease.fencing_token,
        "expire_time_ms": (lease.expire_time - _EPOCH) // _MS,
        "duration_ms": lease.duration // _MS,
    }


def pb_task_view(msg: pb.Task) -> dict[str, Any]:
    """The same view of a raw protobuf Task (answers of the generated-stub fallbacks)."""

    def ms(ts: Any) -> int:
        return int(ts.seconds) * 1000 + int(ts.nanos) // 1_000_000

    view: dict[str, Any] = {
        "task_id": msg.task_id,
        "status": pb.TaskStatus.Name(msg.status).removeprefix("TASK_STATUS_").lower(),
        "status_message": msg.status_message,
        "request_method": msg.request_method,
        "version": msg.version,
        "variables": {k: json_format.MessageToDict(v) for k, v in msg.variables.items()},
        "create_time_ms": ms(msg.create_time),
        "update_time_ms": ms(msg.update_time),
    }
    if msg.HasField("result"):
        view["result"] = json_format.MessageToDict(msg.result)
    if msg.HasField("error"):
        err: dict[str, Any] = {"code": msg.error.code, "message": msg.error.message}
        if msg.error.HasField("data"):
            err["data"] = json_format.MessageToDict(msg.error.data)
        view["error"] = err
    for name in ("ttl", "poll_interval", "expire_time"):
        if msg.HasField(name):
            view[f"{name}_ms"] = ms(getattr(msg, name))
    if msg.HasField("lease"):
        view["lease"] = {
            "worker_id": msg.lease.worker_id,
            "fencing_token": msg.lease.fencing_token,
            "expire_time_ms": ms(msg.lease.expire_time),
            "duration_ms": ms(msg.lease.duration),
        }
    if msg.lease_policy:
        view["lease_policy"] = (
            pb.LeasePolicy.Name(msg.lease_policy).removeprefix("LEASE_POLICY_").lower()
        )
    view["max_attempts"] = msg.max_attempts
    view["attempt"] = msg.attempt
    view["subject"] = msg.subject
    for name in ("input_requests", "input_responses"):
        view[name] = {k: json_format.MessageToDict(v) for k, v in getattr(msg, name).items()}
    view["cancel_requested"] = msg.cancel_requested
    return view


def error_view(exc: TaskStateError) -> dict[str, Any]:
    return {
        "code": exc.code.name,
        "reason": exc.reason or None,
        "message": exc.message,
        "metadata": dict(exc.metadata),
    }


async def rpc_error_view(call: Any) -> dict[str, Any]:
    """The error view of a failed generated-stub call (status details decoded by hand)."""
    view: dict[str, Any] = {
        "code": (await call.code()).name,
        "reason": None,
        "message": await call.details() or "",
        "metadata": {},
    }
    for key, raw in await call.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            for detail in status_pb2.Status.FromString(raw).details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    view["reason"] = info.reason or None
                    view["metadata"] = dict(info.metadata)
    return view


# -- the driver --------------------------------------------------------------------------------


class Driver:
    def __init__(self) -> None:
        self.clients: dict[tuple[str, str | None, str | None], AsyncTaskClient] = {}
        self.channels: dict[str, grpc.aio.Channel] = {}
        self.streams: dict[str, tuple[AsyncTaskStream, AsyncIterator[TaskEvent]]] = {}
        self.ended: dict[str, dict[str, Any]] = {}

    def client(self, target: dict[str, Any]) -> AsyncTaskClient:
        """One client per (address, token, subject): a subject's is a view of the plain one."""
        key = (target["address"], target["token"], target.get("subject"))
        if key not in self.clients:
            if key[2] is not None:
                self.clients[key] = self.client({**target, "subject": None}).with_subject(key[2])
            else:
                # token "" (not None) = no authorization metadata and no TASKSTATE_TOKEN fallback.
                self.clients[key] = AsyncTaskClient(
                    key[0], token=key[1] or "", tls=False, timeout=CALL_TIMEOUT
                )
        return self.clients[key]

    def stub(self, target: dict[str, Any]) -> tuple[Any, tuple[tuple[str, str], ...]]:
        """The generated stub on the target's channel and its authorization metadata."""
        address = target["address"]
        if address not in self.channels:
            self.channels[address] = grpc.aio.insecure_channel(address)
        token, subject = target["token"], target.get("subject")
        metadata = (("authorization", f"Bearer {token}"),) if token else ()
        if subject is not None:
            metadata += (("taskstate-subject", subject),)
        return pb_grpc.TaskServiceStub(self.channels[address]), metadata

    async def stub_call(self, target: dict[str, Any], method: str, request: Any) -> Any:
        stub, metadata = self.stub(target)
        call = getattr(stub, method)(request, timeout=CALL_TIMEOUT, metadata=metadata)
        try:
            return await call
        except grpc.RpcError:
            raise StubError(await rpc_error_view(call)) from None

    async def handle(self, line: bytes) -> dict[str, Any]:
        req: dict[str, Any] = {}
        try:
            req = json.loads(line)
            op = getattr(self, f"op_{req['op']}", None)
            if op is None:
                raise Failure(f"unknown op {req['op']!r}")
            return {"id": req["id"], "ok": await op(req.get("target"), Args(req.get("args", {})))}
        except TaskStateError as exc:
            return {"id": req.get("id"), "error": error_view(exc)}
        except StubError as exc:
            return {"id": req.get("id"), "error": exc.view}
        except Exception as exc:
            return {"id": req.get("id"), "failure": f"{type(exc).__name__}: {exc}"}

    # -- ops ---------------------------------------------------------------------------------

    async def op_create(self, target: Any, a: Args) -> Any:
        task = await self.client(target).create(
            ttl=a.duration("ttl_ms"),
            poll_interval=a.duration("poll_interval_ms"),
            request_method=a.get("request_method", ""),
            variables=a.get("variables"),
            request_id=a.get("request_id"),
            lease_policy=a.get("lease_policy"),
            max_attempts=a.get("max_attempts", 0),
        )
        return a.done(task_view(task))

    async def op_get(self, target: Any, a: Args) -> Any:
        return a.done(task_view(await self.client(target).get(a.need("task_id"))))

    async def op_list(self, target: Any, a: Args) -> Any:
        page = await self.client(target).list(
            page_size=a.get("page_size", 0),
            page_token=a.get("page_token", ""),
            statuses=a.get("statuses"),
            view=a.get("view", "full"),
        )
        tasks = [task_view(t) for t in page.tasks]
        return a.done(
            {
                "tasks": tasks,
                "next_page_token": page.next_page_token,
                "resume_cursor": page.resume_cursor,
            }
        )

    async def op_update_status(self, target: Any, a: Args) -> Any:
        task = await self.client(target).update_status(
            a.need("task_id"),
            a.need("status"),
            a.get("message", ""),
            expected_version=a.get("expected_version"),
            fencing_token=a.get("fencing_token"),
            input_requests=a.get("input_requests"),
        )
        return a.done(task_view(task))

    async def op_set_variables(self, target: Any, a: Args) -> Any:
        task = await self.client(target).set_variables(
            a.need("task_id"),
            a.need("variables"),
            expected_version=a.get("expected_version"),
            fencing_token=a.get("fencing_token"),
        )
        return a.done(task_view(task))

    async def op_put_if_version(self, target: Any, a: Args) -> Any:
        task_id, version, spec = a.need("task_id"), a.need("expected_version"), a.need("task")
        token = a.get("fencing_token")
        if "update_mask" in a:
            req = pb.PutIfVersionRequest(
                task_id=task_id,
                expected_version=version,
                task=pb_task(spec),
                update_mask=field_mask_pb2.FieldMask(paths=a.need("update_mask")),
            )
            if token is not None:
                req.fencing_token = token
            return a.done(pb_task_view((await self.stub_call(target, "PutIfVersion", req)).task))
        fields = dict(spec)
        if "error" in fields:
            fields["error"] = TaskError(**fields["error"])
        for key in ("ttl", "poll_interval"):
            if f"{key}_ms" in fields:
                fields[key] = timedelta(milliseconds=fields.pop(f"{key}_ms"))
        task = await self.client(target).put_if_version(
            task_id, version, fencing_token=token, **fields
        )
        return a.done(task_view(task))

    async def op_complete(self, target: Any, a: Args) -> Any:
        task_id, status = a.need("task_id"), a.get("status", "completed")
        message, err = a.get("message", ""), a.get("error")
        kwargs: dict[str, Any] = {
            k: a.get(k)
            for k in ("result", "variables", "expected_version", "fencing_token")
            if k in a
        }
        client = self.client(target)
        if status == "completed" and err is None:
            task = await client.complete(task_id, message=message, **kwargs)
        elif status == "failed" and err is not None:
            if "data" in err:
                kwargs["data"] = err["data"]
            task = await client.fail(
                task_id, err["message"], code=err["code"], status_message=message, **kwargs
            )
        else:
            req = pb.CompleteTaskRequest(
                task_id=task_id, status=pb_status(status), status_message=message
            )
            if "result" in kwargs:
                json_format.ParseDict(kwargs["result"], req.result)
            if err is not None:
                req.error.CopyFrom(pb_error(err))
            for key, value in (kwargs.get("variables") or {}).items():
                json_format.ParseDict(value, req.variables[key])
            if "expected_version" in kwargs:
                req.expected_version = kwargs["expected_version"]
            if "fencing_token" in kwargs:
                req.fencing_token = kwargs["fencing_token"]
            return a.done(pb_task_view((await self.stub_call(target, "CompleteTask", req)).task))
        return a.done(task_view(task))

    async def op_cancel(self, target: Any, a: Args) -> Any:
        task = await self.client(target).cancel(a.need("task_id"), a.get("message", ""))
        return a.done(task_view(task))

    async def op_provide_input(self, target: Any, a: Args) -> Any:
        accepted = await self.client(target).provide_input(
            a.need("task_id"), a.need("input_responses")
        )
        return a.done({"task": task_view(accepted.task), "accepted_keys": accepted.accepted_keys})

    async def op_request_cancel(self, target: Any, a: Args) -> Any:
        return a.done(task_view(await self.client(target).request_cancel(a.need("task_id"))))

    async def op_delete(self, target: Any, a: Args) -> Any:
        await self.client(target).delete(a.need("task_id"))
        return a.done({})

    async def op_wait(self, target: Any, a: Args) -> Any:
        task = await self.client(target).wait(
            a.need("task_id"), a.duration("timeout_ms"), statuses=a.get("statuses") or None
        )
        return a.done(task_view(task))

    async def op_update(self, target: Any, a: Args) -> Any:
        spec = a.need("fn")

        def fn(variables: dict[str, Any]) -> None:
            if "increment" in spec:
                key = spec["increment"]
                variables[key] = variables.get(key, 0) + spec.get("by", 1)
                return
            for key, value in spec["merge"].items():
                if value is None:
                    variables.pop(key, None)
                else:
                    variables[key] = value

        return a.done(task_view(await self.client(target).update(a.need("task_id"), fn)))

    async def op_watch(self, target: Any, a: Args) -> Any:
        watch = self.client(target).watch(a.need("task_id"), a.get("after_version", 0))
        a.done(None)
        out: dict[str, Any] = {"tasks": [], "end": "OK"}
        try:
            async for task in watch:
                out["tasks"].append(task_view(task))
        except TaskStateError as exc:
            out.update(end_of(exc))
        return out

    async def op_claim(self, target: Any, a: Args) -> Any:
        task = await self.client(target).claim(
            a.get("task_id"),
            worker_id=a.need("worker_id"),
            lease=a.seconds("lease_ms"),
            request_method=a.get("request_method"),
            wait=a.seconds("wait_ms"),
        )
        return a.done({} if task is None else {"task": task_view(task)})

    async def op_renew_lease(self, target: Any, a: Args) -> Any:
        task = await self.client(target).renew_lease(
            a.need("task_id"),
            a.need("fencing_token"),
            lease=a.seconds("lease_ms"),
            status_message=a.get("message"),
        )
        return a.done(task_view(task))

    async def op_worker_run(self, target: Any, a: Args) -> Any:
        lease = a.seconds("lease_ms")
        options = {} if lease is None else {"lease": lease}  # absent: the helper's default
        worker = Worker(self.client(target), a.need("worker_id"), **options)
        variables, result = a.get("variables"), a.get("result", MISSING)
        claiming = worker.claim_next(
            request_method=a.get("request_method"), wait=a.seconds("wait_ms")
        )
        a.done(None)
        async with claiming as ctx:
            if ctx is None:
                return {}
            claimed = task_view(ctx.task)
            if variables is not None:
                await ctx.set_many(variables)
            task = await ctx.complete(result)
        return {"claimed": claimed, "task": task_view(task)}

    async def op_watch_all_open(self, target: Any, a: Args) -> Any:
        name = a.need("stream")
        stream = self.client(target).watch_all(
            statuses=a.get("statuses"),
            view=a.get("view", "full"),
            cursor=a.get("resume_cursor", ""),
            all_events=a.get("all_events", False),
        )
        a.done(None)
        try:
            await stream.wait_ready()
        except BaseException:
            stream.close()
            raise
        self.streams[name] = (stream, aiter(stream.events()))
        return {}

    async def op_watch_all_next(self, target: Any, a: Args) -> Any:
        name = a.need("stream")
        a.done(None)
        if name in self.ended:
            return self.ended[name]
        if name not in self.streams:
            raise Failure(f"unknown stream {name!r}")
        try:
            return event_view(await anext(self.streams[name][1]))
        except StopAsyncIteration:
            end: dict[str, Any] = {"end": "OK"}  # also once closed by watch_all_close
        except TaskStateError as exc:
            end = end_of(exc)
        self.ended[name] = end
        return end

    async def op_watch_all_close(self, target: Any, a: Args) -> Any:
        name = a.need("stream")
        a.done(None)
        entry = self.streams.pop(name, None)
        if entry is not None:
            entry[0].close()
        return {}


class StubError(Exception):
    """A generated-stub call failed with a server status (already an error view)."""

    def __init__(self, view: dict[str, Any]) -> None:
        super().__init__(view["message"])
        self.view = view


class Args(dict[str, Any]):
    """The request's args; done() fails on any key no op looked at (an unknown arg)."""

    def __init__(self, raw: dict[str, Any]) -> None:
        super().__init__(raw)
        self.used: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.used.add(key)
        return super().get(key, default)

    def need(self, key: str) -> Any:
        if key not in self:
            raise Failure(f"missing arg {key!r}")
        return self.get(key)

    def duration(self, key: str) -> timedelta | None:
        ms = self.get(key)
        return None if ms is None else timedelta(milliseconds=ms)

    def seconds(self, key: str) -> float | None:
        ms = self.get(key)
        return None if ms is None else ms / 1000

    def done(self, result: Any) -> Any:
        if unknown := set(self) - self.used:
            raise Failure(f"unknown args {sorted(unknown)}")
        return result


def end_of(exc: TaskStateError) -> dict[str, Any]:
    end: dict[str, Any] = {"end": exc.code.name}
    if exc.reason:
        end["end_reason"] = exc.reason
    return end


def event_view(event: TaskEvent) -> dict[str, Any]:
    """The protocol's event answer of one WatchTasks message."""
    view: dict[str, Any] = {
        "kind": str(event.kind.value),
        "task_id": event.task_id,
        "version": event.version,
        "resume_cursor": event.cursor,
    }
    if event.task is not None:
        view["task"] = task_view(event.task)
    return view


def pb_status(name: str) -> Any:
    return pb.TaskStatus.Value(f"TASK_STATUS_{name.upper()}")


def pb_error(spec: dict[str, Any]) -> pb.TaskError:
    err = pb.TaskError(code=spec.get("code", 0), message=spec.get("message", ""))
    if "data" in spec:
        json_format.ParseDict(spec["data"], err.data)
    return err


def pb_task(spec: dict[str, Any]) -> pb.Task:
    task = pb.Task(status_message=spec.get("status_message", ""))
    if "status" in spec:
        task.status = pb_status(spec["status"])
    for key, value in (spec.get("variables") or {}).items():
        json_format.ParseDict(value, task.variables[key])
    if "result" in spec:
        json_format.ParseDict(spec["result"], task.result)
    if "error" in spec:
        task.error.CopyFrom(pb_error(spec["error"]))
    for key in ("ttl", "poll_interval"):
        if f"{key}_ms" in spec:
            getattr(task, key).FromMilliseconds(spec[f"{key}_ms"])
    return task


async def main() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=256 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    driver = Driver()
    running: set[asyncio.Task[None]] = set()

    def answer(msg: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(msg) + "\n")
        sys.stdout.flush()

    async def serve(line: bytes) -> None:
        answer(await driver.handle(line))

    answer({"hello": "python"})
    while line := await reader.readline():
        task = asyncio.create_task(serve(line))
        running.add(task)
        task.add_done_callback(running.discard)


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
