"""ClaimTask, RenewLease and fencing through the API (docs/proposals/issue-10.md section 1).

The store suite (tests/store/test_store_leases.py) covers the rules on every store; here, the
wire: fields both ways, each row of the error table with its status, reason and metadata, the
flags, and an expiry arriving on a WatchTasks stream with the server's own clock. Runs on every
store of the run that has indexes (Feature.INDEXES); elsewhere ClaimTask is UNIMPLEMENTED
(tests/unit/test_domain_unsupported.py).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from _grpc_helpers import (
    COMPLETED,
    FAILED,
    INPUT_REQUIRED,
    SC,
    WORKING,
    create,
    dur,
    get,
    mask,
    next_real,
    open_watch_tasks,
    py,
    set_status,
    task_in,
    variables,
)
from _harness import (
    ServerProcess,
    ServerStartError,
    aexpect_error,
    arpc,
    check_outcome,
    expect_error,
    rpc,
)
from _stores import STORES
from taskstate.v1 import taskstate_pb2 as pb
from taskstate_server.backends import Feature

FAIL = pb.LEASE_POLICY_FAIL
RELEASE = pb.LEASE_POLICY_RELEASE


@pytest.fixture
def leasing(store_name: str, live_server: ServerProcess) -> ServerProcess:
    """The live server, on a store that can lease (the others answer UNSUPPORTED_BY_STORE)."""
    if not STORES[store_name].has(Feature.INDEXES):
        pytest.skip(f"{store_name} has no indexes: ClaimTask is UNIMPLEMENTED there")
    return live_server


def claim(stub: Any, **kw: Any) -> pb.ClaimTaskResponse:
    kw.setdefault("worker_id", "w1")
    return stub.ClaimTask(pb.ClaimTaskRequest(**kw), timeout=10)


def claimed(stub: Any, task_id: str, worker: str = "w1", seconds: float = 30) -> pb.Task:
    resp = claim(stub, task_id=task_id, worker_id=worker, lease_duration=dur(seconds))
    assert resp.HasField("task")
    return resp.task


def ms(ts: Any) -> int:
    return int(ts.ToMilliseconds())


# -- the happy paths -----------------------------------------------------------------


def test_claim_by_id_returns_the_lease(leasing, stub):
    task = create(stub, lease_policy=FAIL)
    before = int(time.time() * 1000)
    t = claimed(stub, task.task_id, "host:1:abc", 12.5)
    assert t.version == 2 and t.status == WORKING
    assert t.lease.worker_id == "host:1:abc"
    assert t.lease.fencing_token == 1
    assert t.lease.duration.ToMilliseconds() == 12_500
    assert before + 12_500 <= ms(t.lease.expire_time) <= int(time.time() * 1000) + 12_500
    assert (t.lease_policy, t.max_attempts, t.attempt) == (FAIL, 0, 1)
    assert get(stub, task.task_id) == t
    # The holder's retry: the same lease, nothing written.
    assert claimed(stub, task.task_id, "host:1:abc", 99) == t


def test_claim_next_by_method_and_nothing_left(leasing, stub):
    create(stub, request_method="other", lease_policy=FAIL)
    create(stub, request_method="m")  # not offered: no policy
    first = create(stub, request_method="m", lease_policy=RELEASE, max_attempts=2)
    second = create(stub, request_method="m", lease_policy=FAIL)
    got = claim(stub, request_method="m").task
    assert got.task_id == first.task_id and got.lease.fencing_token == 1
    assert (got.lease_policy, got.max_attempts, got.attempt) == (RELEASE, 2, 1)
    assert claim(stub, request_method="m").task.task_id == second.task_id
    empty = claim(stub, request_method="m")
    assert not empty.HasField("task")
    assert claim(stub).task.request_method == "other"  # unset: any method


def test_renew_extends_and_writes_the_message(leasing, stub):
    t = claimed(stub, create(stub, lease_policy=FAIL).task_id, seconds=5)
    r = stub.RenewLease(
        pb.RenewLeaseRequest(
            task_id=t.task_id, fencing_token=1, lease_duration=dur(60), status_message="50%"
        ),
        timeout=10,
    ).task
    assert r.version == t.version + 1 and r.status_message == "50%"
    assert r.lease.duration.ToMilliseconds() == 60_000
    assert ms(r.lease.expire_time) >= ms(t.lease.expire_time) + 55_000
    again = stub.RenewLease(
        pb.RenewLeaseRequest(task_id=t.task_id, fencing_token=1), timeout=10
    ).task
    assert again.status_message == "50%" and again.lease.duration.ToMilliseconds() == 60_000


def test_fenced_writes_with_the_live_token(leasing, stub):
    t = claimed(stub, create(stub, lease_policy=FAIL).task_id)
    tid = t.task_id
    t = stub.SetVariables(
        pb.SetVariablesRequest(task_id=tid, variables=variables({"p": 1}), fencing_token=1),
        timeout=10,
    ).task
    t = stub.PutIfVersion(
        pb.PutIfVersionRequest(
            task_id=tid,
            expected_version=t.version,
            task=pb.Task(status_message="busy"),
            update_mask=mask("status_message"),
            fencing_token=1,
        ),
        timeout=10,
    ).task
    assert t.lease.fencing_token == 1 and t.status_message == "busy"
    done = stub.CompleteTask(
        pb.CompleteTaskRequest(task_id=tid, status=COMPLETED, fencing_token=1), timeout=10
    ).task
    assert done.status == COMPLETED and not done.HasField("lease")


# -- the error table -----------------------------------------------------------------


def test_lease_lost_on_every_fenced_write_with_a_stale_token(leasing, stub):
    tid = create(stub, lease_policy=FAIL).task_id
    claimed(stub, tid)
    v = get(stub, tid).version
    writes = [
        (stub.UpdateTaskStatus, pb.UpdateTaskStatusRequest(task_id=tid, status=INPUT_REQUIRED)),
        (stub.SetVariables, pb.SetVariablesRequest(task_id=tid, variables=variables({"a": 1}))),
        (
            stub.PutIfVersion,
            pb.PutIfVersionRequest(
                task_id=tid,
                expected_version=v,
                task=pb.Task(status_message="x"),
                update_mask=mask("status_message"),
            ),
        ),
        (stub.CompleteTask, pb.CompleteTaskRequest(task_id=tid, status=COMPLETED)),
    ]
    for method, request in writes:
        request.fencing_token = 7
        out = expect_error(method, request, SC.FAILED_PRECONDITION, "LEASE_LOST", timeout=10)
        assert out.metadata == {"fencing_token": "7", "current_fencing_token": "1"}
    out = expect_error(
        stub.RenewLease,
        pb.RenewLeaseRequest(task_id=tid, fencing_token=2),
        SC.FAILED_PRECONDITION,
        "LEASE_LOST",
        timeout=10,
    )
    assert out.metadata == {"fencing_token": "2", "current_fencing_token": "1"}
    set_status(stub, tid, INPUT_REQUIRED, fencing_token=1)  # ends the lease
    out = expect_error(
        stub.SetVariables,
        pb.SetVariablesRequest(task_id=tid, variables=variables({"a": 1}), fencing_token=1),
        SC.FAILED_PRECONDITION,
        "LEASE_LOST",
        timeout=10,
    )
    assert out.metadata == {"fencing_token": "1", "current_fencing_token": "0"}
    assert get(stub, tid).version == v + 1


def test_lease_held(leasing, stub):
    t = claimed(stub, create(stub, lease_policy=FAIL).task_id)
    out = expect_error(
        stub.ClaimTask,
        pb.ClaimTaskRequest(task_id=t.task_id, worker_id="w2"),
        SC.FAILED_PRECONDITION,
        "LEASE_HELD",
        timeout=10,
    )
    end = t.lease.expire_time.ToDatetime()
    assert out.metadata == {"lease_expire_time": end.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"}


def test_claim_of_a_task_that_is_not_working(leasing, stub):
    waiting = task_in(stub, INPUT_REQUIRED, lease_policy=FAIL)
    expect_error(
        stub.ClaimTask,
        pb.ClaimTaskRequest(task_id=waiting.task_id, worker_id="w"),
        SC.FAILED_PRECONDITION,
        "INVALID_TRANSITION",
        timeout=10,
    )
    for status in (COMPLETED, FAILED):
        done = task_in(stub, status, lease_policy=FAIL)
        expect_error(
            stub.ClaimTask,
            pb.ClaimTaskRequest(task_id=done.task_id, worker_id="w"),
            SC.FAILED_PRECONDITION,
            "TASK_TERMINAL",
            timeout=10,
        )
    expect_error(
        stub.ClaimTask,
        pb.ClaimTaskRequest(task_id="0190a0b0-0000-7000-8000-000000000000", worker_id="w"),
        SC.NOT_FOUND,
        "TASK_NOT_FOUND",
        timeout=10,
    )


@pytest.mark.parametrize(
    ("request_kw", "field"),
    [
        ({"worker_id": ""}, "worker_id"),
        ({"worker_id": "w" * 257}, "worker_id"),
        ({"worker_id": "new\nline"}, "worker_id"),
        ({"lease_duration": dur(0)}, "lease_duration"),
        ({"lease_duration": dur(-1)}, "lease_duration"),
        ({"lease_duration": dur(3601)}, "lease_duration"),
        ({"request_method": "m", "with_id": True}, "request_method"),
        ({"wait_timeout": dur(1), "with_id": True}, "wait_timeout"),
    ],
)
def test_claim_invalid_arguments(leasing, stub, request_kw, field):
    kw = {"worker_id": "w", **request_kw}
    if kw.pop("with_id", False):
        kw["task_id"] = create(stub, lease_policy=FAIL).task_id
    out = expect_error(
        stub.ClaimTask, pb.ClaimTaskRequest(**kw), SC.INVALID_ARGUMENT, "INVALID_ARGUMENT"
    )
    assert out.violations[0][0] == field


def test_renew_invalid_arguments(leasing, stub):
    tid = claimed(stub, create(stub, lease_policy=FAIL).task_id).task_id
    for request, field in (
        (pb.RenewLeaseRequest(task_id=tid), "fencing_token"),
        (
            pb.RenewLeaseRequest(task_id=tid, fencing_token=1, lease_duration=dur(0)),
            "lease_duration",
        ),
        (
            pb.RenewLeaseRequest(task_id=tid, fencing_token=1, lease_duration=dur(7200)),
            "lease_duration",
        ),
    ):
        out = expect_error(stub.RenewLease, request, SC.INVALID_ARGUMENT, "INVALID_ARGUMENT")
        assert out.violations[0][0] == field


@pytest.mark.parametrize(
    ("request_kw", "field"),
    [
        ({"max_attempts": 2}, "max_attempts"),
        ({"lease_policy": FAIL, "max_attempts": 2}, "max_attempts"),
        ({"lease_policy": RELEASE, "max_attempts": 101}, "max_attempts"),
        ({"lease_policy": 9}, "lease_policy"),
    ],
)
def test_create_invalid_lease_arguments(live_server, stub, request_kw, field):
    out = expect_error(
        stub.CreateTask,
        pb.CreateTaskRequest(**request_kw),
        SC.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
    )
    assert out.violations[0][0] == field


def test_create_release_takes_the_default_attempts(live_server, stub):
    t = create(stub, lease_policy=RELEASE)
    assert (t.lease_policy, t.max_attempts, t.attempt) == (RELEASE, 3, 1)
    assert not t.HasField("lease")


# -- expiry, as a watcher sees it ------------------------------------------------------


async def test_an_expiry_arrives_on_a_watch_stream(leasing, aio_stubs, owner):
    stub = aio_stubs(leasing, owner)
    stream = await open_watch_tasks(stub)
    try:
        failing = (await stub.CreateTask(pb.CreateTaskRequest(lease_policy=FAIL))).task
        releasing = (
            await stub.CreateTask(pb.CreateTaskRequest(lease_policy=RELEASE, max_attempts=2))
        ).task
        leases = {}
        for t in (failing, releasing):
            resp = await stub.ClaimTask(
                pb.ClaimTaskRequest(task_id=t.task_id, worker_id="gone", lease_duration=dur(0.3))
            )
            leases[t.task_id] = ms(resp.task.lease.expire_time)
        seen: dict[str, pb.Task] = {}
        late: list[int] = []
        while len(seen) < 2:
            msg = await next_real(stream)
            task = msg.task
            if task.version == 3:  # create 1, claim 2, the expiry 3
                late.append(int(time.time() * 1000) - leases[task.task_id])
                seen[task.task_id] = task
        assert min(late) >= 0
        failed = seen[failing.task_id]
        assert failed.status == FAILED and not failed.HasField("lease")
        assert failed.status_message == "lease of gone expired"
        assert failed.error.code == pb.LEASE_EXPIRED == 13
        assert failed.error.message.startswith("LEASE_EXPIRED: ")
        assert py(failed.error.data) == {
            "reason": "LEASE_EXPIRED",
            "worker_id": "gone",
            "fencing_token": 1,
            "attempt": 1,
        }
        released = seen[releasing.task_id]
        assert released.status == WORKING and released.attempt == 2
        assert not released.HasField("lease") and released.lease_policy == RELEASE
        # The released task is offered again, under a new token.
        again = (await stub.ClaimTask(pb.ClaimTaskRequest(worker_id="next"))).task
        assert again.task_id == releasing.task_id and again.lease.fencing_token == 2
        out = await aexpect_error(
            stub.SetVariables(pb.SetVariablesRequest(task_id=again.task_id, fencing_token=1)),
            SC.FAILED_PRECONDITION,
            "LEASE_LOST",
        )
        assert out.metadata == {"fencing_token": "1", "current_fencing_token": "2"}
    finally:
        await stream.close()


async def test_claim_waits_for_a_create(leasing, aio_stubs, owner):
    stub = aio_stubs(leasing, owner)
    claiming = asyncio.ensure_future(
        stub.ClaimTask(
            pb.ClaimTaskRequest(worker_id="w", request_method="late", wait_timeout=dur(20)),
            timeout=30,
        )
    )
    created = (
        await stub.CreateTask(pb.CreateTaskRequest(request_method="late", lease_policy=FAIL))
    ).task
    got = (await claiming).task
    assert got.task_id == created.task_id and got.lease.worker_id == "w"


async def test_claim_wait_ends_before_the_deadline(leasing, aio_stubs, owner):
    # As WaitTask (test_grpc_watch.py): answered min(0.25 s, 10%) before the deadline, and
    # from 2.5 s on that margin is the full 0.25 s, enough for a busy machine.
    stub = aio_stubs(leasing, owner)
    started = time.monotonic()
    out = await arpc(
        stub.ClaimTask(
            pb.ClaimTaskRequest(worker_id="w", request_method="never", wait_timeout=dur(60)),
            timeout=3.0,
        )
    )
    check_outcome(out, SC.OK)  # not DEADLINE_EXCEEDED
    assert not out.response.HasField("task")
    assert time.monotonic() - started >= 2.5


# -- flags ---------------------------------------------------------------------------


def test_lease_flags(server_factory, store_name):
    if not STORES[store_name].has(Feature.INDEXES):
        pytest.skip(f"{store_name} has no indexes")
    server = server_factory(
        store_name,
        args=["--default-lease", "2s", "--max-lease", "5s"],
        env={"TASKSTATE_DEFAULT_MAX_ATTEMPTS": "7"},
    )
    stub = server.stub("alice")
    t = create(stub, lease_policy=RELEASE)
    assert t.max_attempts == 7
    got = claim(stub, task_id=t.task_id).task
    assert got.lease.duration.ToMilliseconds() == 2000
    out = rpc(
        stub.RenewLease,
        pb.RenewLeaseRequest(task_id=t.task_id, fencing_token=1, lease_duration=dur(5.001)),
        timeout=10,
    )
    assert out.code == SC.INVALID_ARGUMENT and "--max-lease" in out.violations[0][1]
    server.stop()
    assert "default-lease 2s, max-lease 5s, default-max-attempts 7" in server.output_text()


@pytest.mark.parametrize(
    "args",
    [
        ["--default-lease", "2h"],
        ["--default-lease", "0s"],
        ["--default-max-attempts", "101"],
        ["--default-max-attempts", "0"],
    ],
)
def test_bad_lease_flags_do_not_start(server_factory, args):
    server = server_factory("memory", args=args, start=False)
    with pytest.raises(ServerStartError) as info:
        server.start(timeout=20)
    flag = args[0]
    assert flag in str(info.value) or flag.lstrip("-") in str(info.value), str(info.value)
