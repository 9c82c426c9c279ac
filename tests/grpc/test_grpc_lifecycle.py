"""Server lifecycle: durability across kill -9, graceful SIGTERM, health and reflection."""

from __future__ import annotations

import asyncio
import signal
import threading

import grpc
import pytest
from _grpc_helpers import (
    CANCELLED,
    COMPLETED,
    FAILED,
    INPUT_REQUIRED,
    SC,
    create,
    dur,
    list_all,
    mask,
    open_watch_tasks,
    set_status,
    set_vars,
    task_in,
    value,
    vars_of,
)
from _harness import arpc, check_outcome, expect_error, rpc
from _stores import durable_stores
from _streams import StreamCollector
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from taskstate.v1 import taskstate_pb2 as pb

# -- durability -------------------------------------------------------------------------------


def static_writes(stub) -> tuple[dict[str, pb.Task], set[str]]:
    """A mix of acknowledged writes of every kind; returns (task_id -> last acked task, deleted)."""
    acked: dict[str, pb.Task] = {}
    deleted: set[str] = set()
    for i in range(6):
        t = create(stub, variables={"i": i, "nested": {"l": [i, str(i)]}}, request_method=f"m{i}")
        acked[t.task_id] = t
    for status in (INPUT_REQUIRED, COMPLETED, FAILED, CANCELLED):
        t = task_in(stub, status, variables={"s": status})
        acked[t.task_id] = t
    ids = list(acked)
    acked[ids[0]] = set_vars(stub, ids[0], {"x": "y", "i": None})
    acked[ids[1]] = set_status(stub, ids[1], INPUT_REQUIRED, "waiting")
    out = rpc(
        stub.PutIfVersion,
        pb.PutIfVersionRequest(
            task_id=ids[2],
            expected_version=1,
            task=pb.Task(ttl=dur(7200), variables={"only": value(True)}, result=value([1])),
            update_mask=mask("ttl", "variables", "result"),
        ),
    )
    acked[ids[2]] = check_outcome(out, SC.OK).response.task
    acked[ids[3]] = stub.CompleteTask(
        pb.CompleteTaskRequest(task_id=ids[3], status=COMPLETED, result=value({"r": 1})),
        timeout=10,
    ).task
    stub.DeleteTask(pb.DeleteTaskRequest(task_id=ids[4]), timeout=10)
    deleted.add(ids[4])
    del acked[ids[4]]
    idem = create(stub, request_id="durable-rid")
    acked[idem.task_id] = idem
    return acked, deleted


class Writer(threading.Thread):
    """Keeps writing to its own task until the server dies; remembers the last ack."""

    def __init__(self, stub, task: pb.Task, acks: threading.Semaphore) -> None:
        super().__init__(daemon=True)
        self.stub, self.last, self.acks = stub, task, acks

    def run(self) -> None:
        i = 0
        while True:
            i += 1
            try:
                self.last = set_vars(self.stub, self.last.task_id, {"n": i})
            except grpc.RpcError:
                return
            self.acks.release()


@pytest.mark.slow
@pytest.mark.parametrize("store", durable_stores())
def test_acknowledged_writes_survive_sigkill(server_factory, store):
    server = server_factory(store)
    stub = server.stub("alice")
    acked, deleted = static_writes(stub)
    acks = threading.Semaphore(0)
    writers = [Writer(server.stub("alice"), create(stub), acks) for _ in range(4)]
    for w in writers:
        acked[w.last.task_id] = w.last
        w.start()
    for _ in range(200):  # let 200 concurrent writes be acknowledged, then pull the plug
        assert acks.acquire(timeout=30), "writers stalled"
    assert server.kill() == -signal.SIGKILL
    for w in writers:
        w.join(30)
        assert not w.is_alive()
        acked[w.last.task_id] = w.last
    server.restart()
    stub = server.stub("alice")
    writer_ids = {w.last.task_id for w in writers}
    for task_id, expected in acked.items():
        got = stub.GetTask(pb.GetTaskRequest(task_id=task_id), timeout=10).task
        if task_id in writer_ids and got.version == expected.version + 1:
            # The write in flight at the kill committed without its ack: allowed.
            assert vars_of(got)["n"] == vars_of(expected)["n"] + 1
            continue
        assert got == expected, f"acknowledged write lost or changed for {task_id}"
    for task_id in deleted:
        expect_error(
            stub.GetTask, pb.GetTaskRequest(task_id=task_id), SC.NOT_FOUND, "TASK_NOT_FOUND"
        )
    assert {t.task_id for t in list_all(stub)} == set(acked)
    # Versions continue after the restart, never reused.
    w = writers[0].last.task_id
    before = stub.GetTask(pb.GetTaskRequest(task_id=w), timeout=10).task.version
    assert set_vars(stub, w, {"after": 1}).version == before + 1
    again = create(stub, request_id="durable-rid")
    assert again.task_id in acked, "request_id idempotency survives a restart"


# -- SIGTERM ----------------------------------------------------------------------------------


async def test_sigterm_ends_streams_unavailable_and_exits_zero(
    store_name, server_factory, aio_stubs
):
    server = server_factory(store_name)
    astub = aio_stubs(server, "alice")
    task = (await astub.CreateTask(pb.CreateTaskRequest(), timeout=10)).task
    watch = StreamCollector(astub.WatchTask(pb.WatchTaskRequest(task_id=task.task_id)))
    assert (await watch.next()).task == task
    watch_all = await open_watch_tasks(astub)
    waiting = asyncio.ensure_future(
        arpc(astub.WaitTask(pb.WaitTaskRequest(task_id=task.task_id, timeout=dur(60)), timeout=90))
    )
    # A write sent after the WaitTask (same channel) and seen on the watch: the server has
    # very likely got the wait in flight when the signal comes.
    await astub.SetVariables(
        pb.SetVariablesRequest(task_id=task.task_id, variables={"x": value(1)}), timeout=10
    )
    assert (await watch.next()).task.version == 2
    server.proc.send_signal(signal.SIGTERM)
    messages, out = await watch.rest(within=20)
    check_outcome(out, SC.UNAVAILABLE)
    assert messages == []
    _, out_all = await watch_all.rest(within=20)
    check_outcome(out_all, SC.UNAVAILABLE)
    wait_out = await asyncio.wait_for(waiting, 30)
    assert wait_out.code in (SC.OK, SC.UNAVAILABLE), wait_out.describe()
    code = await asyncio.to_thread(server.proc.wait, 20)
    assert code == 0, server.output_text()


def test_sigterm_idle_server_exits_zero(store_name, server_factory):
    server = server_factory(store_name)
    create(server.stub("alice"))
    assert server.stop(signal.SIGTERM) == 0, server.output_text()


# -- health and reflection --------------------------------------------------------------------


@pytest.mark.parametrize("service", ["", "taskstate.v1.TaskService"])
def test_health_serving_without_credentials(live_server, service):
    channel = grpc.insecure_channel(live_server.address)
    try:
        health = health_pb2_grpc.HealthStub(channel)
        resp = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
        assert resp.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        channel.close()


def reflect(channel, **request):
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    responses = list(
        stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(**request)]), timeout=10
        )
    )
    assert len(responses) == 1
    return responses[0]


def test_reflection_lists_services(live_server):
    channel = live_server.channel("alice")
    resp = reflect(channel, list_services="")
    names = {s.name for s in resp.list_services_response.service}
    assert "taskstate.v1.TaskService" in names, names
    assert "grpc.health.v1.Health" in names, names
    resp = reflect(channel, file_containing_symbol="taskstate.v1.TaskService")
    assert resp.file_descriptor_response.file_descriptor_proto, resp
