"""Leases on the client side without a server: conversion and request building."""

from __future__ import annotations

from datetime import timedelta

import pytest
from taskstate.v1 import taskstate_pb2 as pb
from taskstate_client import Lease, LeasePolicy
from taskstate_client import _requests as rq
from taskstate_client._convert import lease_policy_to_proto, task_from_proto


def _leased() -> pb.Task:
    msg = pb.Task(
        task_id="t1",
        status=pb.TASK_STATUS_WORKING,
        version=3,
        lease_policy=pb.LEASE_POLICY_RELEASE,
        max_attempts=4,
        attempt=2,
    )
    msg.create_time.FromSeconds(1_700_000_000)
    msg.update_time.FromSeconds(1_700_000_010)
    msg.lease.worker_id = "w1"
    msg.lease.fencing_token = 7
    msg.lease.expire_time.FromSeconds(1_700_000_040)
    msg.lease.duration.FromSeconds(30)
    return msg


def test_task_from_proto_reads_the_lease() -> None:
    task = task_from_proto(_leased())
    assert task.lease == Lease(
        worker_id="w1",
        fencing_token=7,
        expire_time=task.update_time + timedelta(seconds=30),
        duration=timedelta(seconds=30),
    )
    assert task.lease_policy is LeasePolicy.RELEASE
    assert (task.max_attempts, task.attempt) == (4, 2)
    data = task.to_dict()
    assert data["lease"] == {
        "worker_id": "w1",
        "fencing_token": 7,
        "expire_time": "2023-11-14T22:14:00.000Z",
        "duration": "30s",
    }
    assert (data["lease_policy"], data["max_attempts"], data["attempt"]) == ("release", 4, 2)


def test_unleased_task_has_no_lease_fields() -> None:
    msg = _leased()
    msg.ClearField("lease")
    msg.lease_policy = pb.LEASE_POLICY_UNSPECIFIED
    msg.max_attempts = 0
    msg.attempt = 0
    task = task_from_proto(msg)
    assert (task.lease, task.lease_policy, task.max_attempts, task.attempt) == (None, None, 0, 0)
    assert not {"lease", "lease_policy", "max_attempts", "attempt"} & task.to_dict().keys()


@pytest.mark.parametrize("spelling", ["fail", "FAIL", "lease_policy_fail", LeasePolicy.FAIL])
def test_lease_policy_spellings(spelling: str) -> None:
    assert lease_policy_to_proto(spelling) == pb.LEASE_POLICY_FAIL


def test_lease_policy_unknown() -> None:
    assert lease_policy_to_proto(None) == pb.LEASE_POLICY_UNSPECIFIED
    with pytest.raises(ValueError, match="unknown lease policy"):
        lease_policy_to_proto("retry")


def test_create_carries_policy_and_attempts() -> None:
    req = rq.create(
        ttl=None,
        poll_interval=None,
        request_method="m",
        variables=None,
        request_id=None,
        lease_policy="release",
        max_attempts=5,
    )
    assert (req.lease_policy, req.max_attempts) == (pb.LEASE_POLICY_RELEASE, 5)
    plain = rq.create(
        ttl=None, poll_interval=None, request_method="", variables=None, request_id=None
    )
    assert (plain.lease_policy, plain.max_attempts) == (pb.LEASE_POLICY_UNSPECIFIED, 0)


def test_writes_carry_the_fencing_token_only_when_given() -> None:
    fenced = [
        rq.update_status("t", "working", "", None, 9),
        rq.set_variables("t", {"a": 1}, None, 9),
        rq.put_if_version("t", 2, status_message="x", fencing_token=9),
        rq.complete("t", 1, "", None, None, 9),
        rq.fail("t", "boom", -1, None, None, None, None, None, 9),
    ]
    for req in fenced:
        assert req.HasField("fencing_token") and req.fencing_token == 9
    plain = [
        rq.update_status("t", "working", "", None),
        rq.set_variables("t", {"a": 1}, None),
        rq.put_if_version("t", 2, status_message="x"),
        rq.complete("t", 1, "", None, None),
    ]
    for req in plain:
        assert not req.HasField("fencing_token")


def test_fenced_update_plan() -> None:
    task = task_from_proto(_leased())
    req = rq.plan_update(task, {"n": 1}, {}, fencing_token=7)
    assert req is not None and req.fencing_token == 7 and req.expected_version == 3


def test_claim_requests() -> None:
    by_id = rq.claim("t1", "w1", 30, None, None)
    assert (by_id.task_id, by_id.worker_id, by_id.lease_duration.seconds) == ("t1", "w1", 30)
    assert not by_id.HasField("request_method") and not by_id.HasField("wait_timeout")
    nxt = rq.claim(None, "w1", None, "tools/call", timedelta(seconds=5))
    assert nxt.task_id == "" and not nxt.HasField("lease_duration")
    assert nxt.request_method == "tools/call" and nxt.wait_timeout.seconds == 5
    any_method = rq.claim(None, "w1", None, "", None)
    assert any_method.HasField("request_method")  # "" is a method name, not "any"
    with pytest.raises(ValueError, match="worker_id"):
        rq.claim(None, "", None, None, None)
    with pytest.raises(ValueError, match="without task_id"):
        rq.claim("t1", "w1", None, None, 5)


def test_claim_deadline_covers_the_wait() -> None:
    assert rq.claim_deadline(None, 30.0) == 30.0
    assert rq.claim_deadline(60, 30.0) == 90.0
    assert rq.claim_deadline(60, None) is None


def test_renew_request() -> None:
    req = rq.renew_lease("t1", 7, None, None)
    assert (req.task_id, req.fencing_token) == ("t1", 7)
    assert not req.HasField("lease_duration") and not req.HasField("status_message")
    req = rq.renew_lease("t1", 7, 10, "half way")
    assert req.lease_duration.seconds == 10 and req.status_message == "half way"


def test_watch_all_request() -> None:
    req = rq.watch_all(None, "basic", "c1", True)
    assert (req.resume_cursor, req.all_events, req.view) == ("c1", True, pb.TASK_VIEW_BASIC)
