"""The full 5x5 status-transition matrix through UpdateTaskStatus (docs/design.md §4.2)."""

from __future__ import annotations

import pytest
from _grpc_helpers import (
    ALL_STATUSES,
    CANCELLED,
    COMPLETED,
    FAILED,
    INPUT_REQUIRED,
    LEGAL,
    SC,
    TERMINAL,
    WORKING,
    get,
    name,
    task_in,
)
from _harness import check_outcome, expect_error, rpc
from google.protobuf import field_mask_pb2
from taskstate.v1 import taskstate_pb2 as pb

MATRIX = [(s, t) for s in ALL_STATUSES for t in ALL_STATUSES]


@pytest.mark.parametrize(
    ("source", "target"), MATRIX, ids=[f"{name(s)}->{name(t)}" for s, t in MATRIX]
)
def test_update_task_status_matrix(stub, source, target):
    task = task_in(stub, source)
    assert task.status == source
    out = rpc(
        stub.UpdateTaskStatus,
        pb.UpdateTaskStatusRequest(task_id=task.task_id, status=target, status_message="moved"),
        timeout=10,
    )
    if target in LEGAL[source]:
        check_outcome(out, SC.OK)
        moved = out.response.task
        assert moved.status == target
        assert moved.status_message == "moved"
        assert moved.version == task.version + 1
        assert get(stub, task.task_id) == moved
        return
    reason = "TASK_TERMINAL" if source in TERMINAL else "INVALID_TRANSITION"
    check_outcome(out, SC.FAILED_PRECONDITION, reason)
    assert get(stub, task.task_id) == task, "a refused transition changes nothing"


def test_legal_table_matches_design():
    # Guard against a typo in the test's own table.
    legal = {(s, t) for s, ts in LEGAL.items() for t in ts}
    assert len(legal) == 8
    assert (WORKING, WORKING) not in legal and (INPUT_REQUIRED, INPUT_REQUIRED) not in legal
    assert all(s not in TERMINAL for s, _ in legal)


@pytest.mark.parametrize("source", ALL_STATUSES, ids=name)
@pytest.mark.parametrize(
    "target", [pb.TASK_STATUS_UNSPECIFIED, 99, -1], ids=["unspecified", "99", "-1"]
)
def test_update_to_invalid_status_is_invalid_argument(stub, source, target):
    task = task_in(stub, source)
    out = expect_error(
        stub.UpdateTaskStatus,
        pb.UpdateTaskStatusRequest(task_id=task.task_id, status=target),
        SC.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
    )
    assert any("status" in f for f, _ in out.violations), out.describe()


def test_cancel_follows_the_state_machine(stub):
    for source in TERMINAL:
        task = task_in(stub, source)
        expect_error(
            stub.CancelTask,
            pb.CancelTaskRequest(task_id=task.task_id),
            SC.FAILED_PRECONDITION,
            "TASK_TERMINAL",
        )


@pytest.mark.parametrize("source", TERMINAL, ids=name)
@pytest.mark.parametrize("target", [COMPLETED, FAILED], ids=name)
def test_complete_on_terminal(stub, source, target):
    task = task_in(stub, source)
    expect_error(
        stub.CompleteTask,
        pb.CompleteTaskRequest(task_id=task.task_id, status=target),
        SC.FAILED_PRECONDITION,
        "TASK_TERMINAL",
    )
    assert get(stub, task.task_id) == task


@pytest.mark.parametrize(("source", "target"), [(WORKING, CANCELLED), (INPUT_REQUIRED, FAILED)])
def test_put_if_version_status_legal(stub, source, target):
    task = task_in(stub, source)
    out = rpc(
        stub.PutIfVersion,
        pb.PutIfVersionRequest(
            task_id=task.task_id,
            expected_version=task.version,
            task=pb.Task(status=target),
            update_mask=field_mask_pb2.FieldMask(paths=["status"]),
        ),
        timeout=10,
    )
    assert check_outcome(out, SC.OK).response.task.status == target


@pytest.mark.parametrize(
    ("source", "target"),
    [(COMPLETED, WORKING), (CANCELLED, INPUT_REQUIRED), (FAILED, COMPLETED)],
    ids=lambda s: name(s) if isinstance(s, int) else s,
)
def test_put_if_version_status_from_terminal(stub, source, target):
    task = task_in(stub, source)
    expect_error(
        stub.PutIfVersion,
        pb.PutIfVersionRequest(
            task_id=task.task_id,
            expected_version=task.version,
            task=pb.Task(status=target),
            update_mask=field_mask_pb2.FieldMask(paths=["status"]),
        ),
        SC.FAILED_PRECONDITION,
        "TASK_TERMINAL",
    )


@pytest.mark.parametrize("source", [WORKING, INPUT_REQUIRED], ids=name)
def test_put_if_version_masked_same_status_is_a_self_transition(stub, source):
    task = task_in(stub, source)
    expect_error(
        stub.PutIfVersion,
        pb.PutIfVersionRequest(
            task_id=task.task_id,
            expected_version=task.version,
            task=pb.Task(status=source, status_message="again"),
            update_mask=field_mask_pb2.FieldMask(paths=["status", "status_message"]),
        ),
        SC.FAILED_PRECONDITION,
        "INVALID_TRANSITION",
    )
    assert get(stub, task.task_id) == task
