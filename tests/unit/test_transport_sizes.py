"""Wire sizes (transport/sizes.py), the ListTasks page cut (servicer) and gRPC's log filter."""

from __future__ import annotations

import asyncio
import logging
import sys

import pytest
from google.protobuf import struct_pb2
from taskstate.v1 import taskstate_pb2 as pb
from taskstate_server.backends.memory import MemoryBackend
from taskstate_server.domain.model import Limits
from taskstate_server.domain.paging import encode_page_token
from taskstate_server.domain.store import TaskStore
from taskstate_server.transport import convert, grpc_logging, sizes
from taskstate_server.transport.servicer import Call, TaskServicer


@pytest.mark.parametrize(
    "chars", [0, 1, 122, 123, 124, 125, 126, 16_379, 16_380, 16_381, 2_097_148]
)
def test_repeated_field_bytes_is_what_a_task_adds_to_a_page(chars):
    # Lengths around the varint boundaries (127/128 and 16383/16384 bytes of body).
    task = pb.Task(status_message="x" * chars)
    page = pb.ListTasksResponse(tasks=[pb.Task(), task])
    grown = page.ByteSize() - pb.ListTasksResponse(tasks=[pb.Task()]).ByteSize()
    assert grown == sizes.repeated_field_bytes(task)


def test_page_budget_leaves_room_for_the_token():
    token = encode_page_token("018f3c1e-7b2a-7c3d-8abc-0123456789ab", ())
    overhead = pb.ListTasksResponse(next_page_token=token).ByteSize()
    assert sizes.PAGE_BUDGET_BYTES + overhead < sizes.CLIENT_DEFAULT_MAX_MESSAGE_BYTES


def test_json_numbers_grow_11_to_2_on_the_wire():
    # The worst case the receive limit is built on: `0,` in a JSON list.
    n = 10_000
    value = struct_pb2.Value()
    value.list_value.values.extend([struct_pb2.Value(number_value=0)] * n)
    json_bytes = len("[" + ",".join(["0"] * n) + "]")
    assert value.ByteSize() <= json_bytes * sizes.PROTO_BYTES_PER_JSON_BYTE


def test_max_request_bytes_fits_three_capped_values_and_two_strings():
    limits = Limits()
    worst = 3 * limits.max_variables_bytes * 11 // 2 + 2 * limits.string_bytes
    assert worst < sizes.max_request_bytes(limits) <= worst + 128 * 1024
    assert sizes.max_request_bytes(Limits(max_variables_bytes=1 << 40)) == 2**31 - 1
    assert sizes.MAX_SEND_BYTES == -1  # no send limit: a stored task is always returned


# -- the page cut, through the servicer -------------------------------------------------------


def _servicer() -> tuple[TaskServicer, TaskStore]:
    store = TaskStore(MemoryBackend(), Limits(max_active_tasks=1000))
    return TaskServicer(store, asyncio.Event()), store


async def _no_headers() -> None:
    return None


CALL = Call(owner="alice", time_remaining=None, send_headers=_no_headers)


async def test_list_tasks_cuts_at_the_page_budget(monkeypatch):
    servicer, store = _servicer()
    tasks = [await store.create("alice", variables={"v": "x" * 1000}) for _ in range(5)]
    one = sizes.repeated_field_bytes(convert.task_out(tasks[0]))
    monkeypatch.setattr(sizes, "PAGE_BUDGET_BYTES", 2 * one)  # exactly two tasks
    got, token = [], ""
    while True:
        page = await servicer.ListTasks(pb.ListTasksRequest(page_token=token), CALL)
        assert 0 < len(page.tasks) <= 2
        assert sum(sizes.repeated_field_bytes(t) for t in page.tasks) <= 2 * one
        got.extend(page.tasks)
        token = page.next_page_token
        if not token:
            break
    assert [t.task_id for t in got] == [t.task_id for t in reversed(tasks)]
    assert got == [convert.task_out(t) for t in reversed(tasks)]
    first_two = sum(sizes.repeated_field_bytes(t) for t in got[:2])
    monkeypatch.setattr(sizes, "PAGE_BUDGET_BYTES", first_two - 1)  # one under: one task
    page = await servicer.ListTasks(pb.ListTasksRequest(), CALL)
    assert len(page.tasks) == 1 and page.next_page_token


async def test_basic_view_measures_and_sends_the_basic_task(monkeypatch):
    servicer, store = _servicer()
    for _ in range(3):
        await store.create("alice", variables={"v": "x" * 100_000})
    page = await servicer.ListTasks(pb.ListTasksRequest(view=pb.TASK_VIEW_BASIC), CALL)
    # The three basic tasks exactly (their sizes differ by a byte or two: timestamps' nanos).
    budget = sum(sizes.repeated_field_bytes(t) for t in page.tasks)
    monkeypatch.setattr(sizes, "PAGE_BUDGET_BYTES", budget)
    page = await servicer.ListTasks(pb.ListTasksRequest(view=pb.TASK_VIEW_BASIC), CALL)
    assert len(page.tasks) == 3 and not page.next_page_token
    assert not any(t.variables for t in page.tasks)


# -- grpc's ExecuteBatchError traceback becomes one line ---------------------------------------


class ExecuteBatchError(Exception):
    """Stands in for grpc._cython.cygrpc.ExecuteBatchError (matched by name)."""


def _grpc_record(exc: BaseException, method: str) -> logging.LogRecord:
    try:
        raise exc
    except BaseException:
        exc_info = sys.exc_info()
    return logging.LogRecord(
        grpc_logging.GRPC_LOGGER,
        logging.ERROR,
        __file__,
        1,
        "ExecuteBatchError raised in core by servicer method [%s]",
        (method,),
        exc_info,
    )


def test_undelivered_response_is_one_info_line(caplog):
    f = grpc_logging.UndeliveredResponseFilter()
    with caplog.at_level(logging.INFO, logger="taskstate.server"):
        keep = f.filter(_grpc_record(ExecuteBatchError("failed"), "/taskstate.v1/GetTask"))
    assert keep is False
    [line] = caplog.records
    assert line.levelno == logging.INFO and line.exc_info is None
    assert "/taskstate.v1/GetTask" in line.getMessage()
    assert "receive limit" in line.getMessage()


def test_other_grpc_errors_are_logged_as_they_are():
    f = grpc_logging.UndeliveredResponseFilter()
    assert f.filter(_grpc_record(RuntimeError("other"), "/x"))
    plain = logging.LogRecord(grpc_logging.GRPC_LOGGER, logging.ERROR, "", 1, "m", (), None)
    assert f.filter(plain)


def test_filter_is_installed_once():
    grpc_logging.quiet_undelivered_responses()
    grpc_logging.quiet_undelivered_responses()
    installed = logging.getLogger(grpc_logging.GRPC_LOGGER).filters
    assert sum(isinstance(f, grpc_logging.UndeliveredResponseFilter) for f in installed) == 1
