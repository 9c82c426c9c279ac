"""Real races across replicas: OS processes hammering two server processes on one store.

Timings (seconds from the start signal until the last worker finished) are printed; run with
``-s`` to see them.
"""

from __future__ import annotations

import pytest
from _harness import ServerProcess
from _replica_helpers import SHARED_STORES, run_workers, value
from taskstate.v1 import taskstate_pb2 as pb

pytestmark = [
    pytest.mark.slow,
    pytest.mark.fresh_dynamodb,  # the read-modify-write race is long on DynamoDB Local
    pytest.mark.parametrize("store", SHARED_STORES),
]

QUOTA = 10
CREATES = 200
CREATE_PROCS_PER_REPLICA = 2
INCR_CLIENTS_PER_REPLICA = 8
INCREMENTS = 200


def list_ids(server: ServerProcess, owner: str) -> list[pb.Task]:
    resp = server.stub(owner).ListTasks(pb.ListTasksRequest(page_size=1000), timeout=30)
    assert not resp.next_page_token
    return list(resp.tasks)


def test_concurrent_creates_on_both_replicas_respect_the_quota(replicas, store):
    a, b = replicas(store, args=["--max-active-tasks", str(QUOTA)])
    owner = a.fresh_owner()
    token = a.token(owner)
    per_proc = CREATES // (2 * CREATE_PROCS_PER_REPLICA)
    jobs = [
        (server.address, token, ["create", str(per_proc)])
        for server in (a, b)
        for _ in range(CREATE_PROCS_PER_REPLICA)
    ]
    reports, seconds = run_workers(jobs)
    print(f"\n[{store}] {CREATES} concurrent CreateTask over 2 replicas: {seconds:.2f}s")

    created = [tid for r in reports for tid in r["created"]]
    errors = [tuple(e) for r in reports for e in r["errors"]]
    assert len(created) + len(errors) == CREATES
    assert len(created) == QUOTA, f"{len(created)} creates won against a quota of {QUOTA}"
    assert set(errors) == {("RESOURCE_EXHAUSTED", "TASK_QUOTA_EXCEEDED")}, set(errors)
    per_replica = [sum(len(r["created"]) for r in reports[i::2]) for i in range(2)]
    print(f"[{store}] wins per worker process: {[len(r['created']) for r in reports]}")
    assert sum(per_replica) == QUOTA
    for server in (a, b):  # both replicas list exactly the winners
        listed = list_ids(server, owner)
        assert sorted(t.task_id for t in listed) == sorted(created)
        assert all(t.status == pb.TASK_STATUS_WORKING and t.version == 1 for t in listed)
    # Still full, seen from either replica.
    for server in (a, b):
        try:
            server.stub(owner).CreateTask(pb.CreateTaskRequest(), timeout=30)
        except Exception as err:  # grpc.RpcError
            assert err.code().name == "RESOURCE_EXHAUSTED", err  # type: ignore[attr-defined]
        else:
            raise AssertionError("an 11th active task was created")


@pytest.mark.timeout(900)  # ~1 min on Redis, ~2 min on DynamoDB Local (2 cores)
def test_read_modify_write_through_both_replicas_loses_no_update(replicas, store):
    a, b = replicas(store)
    owner = a.fresh_owner()
    token = a.token(owner)
    task = (
        a.stub(owner)
        .CreateTask(pb.CreateTaskRequest(variables={"counter": value(0)}), timeout=30)
        .task
    )
    jobs = [
        (server.address, token, ["incr", task.task_id, str(INCREMENTS)])
        for server in (a, b)
        for _ in range(INCR_CLIENTS_PER_REPLICA)
    ]
    reports, seconds = run_workers(jobs, limit=900)
    total = len(jobs) * INCREMENTS
    aborted = sum(r["aborted"] for r in reports)
    print(
        f"\n[{store}] {len(jobs)} clients x {INCREMENTS} increments over 2 replicas: "
        f"{seconds:.1f}s, {aborted} ABORTED retries"
    )
    for server in (a, b):
        final = server.stub(owner).GetTask(pb.GetTaskRequest(task_id=task.task_id), timeout=30).task
        assert final.variables["counter"].number_value == total, "a lost update"
        assert final.version == 1 + total, "every successful PutIfVersion is exactly one version"
