"""domain/wire.py: a task's protobuf size, computed without protobuf, and TaskStore's
refusal of a task that no default gRPC client could read (issue 8, after items 3 and 4)."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

import pytest
from taskstate_server.backends.memory import MemoryBackend
from taskstate_server.domain import records, wire
from taskstate_server.domain.errors import VariablesTooLarge
from taskstate_server.domain.model import (
    UNSET,
    Lease,
    LeasePolicy,
    Limits,
    Task,
    TaskError,
    TaskStatus,
)
from taskstate_server.domain.store import TaskStore
from taskstate_server.transport import convert

# Lengths on either side of the varint boundaries (1, 2 and 3 bytes).
EDGES = [0, 1, 2, 124, 125, 126, 127, 128, 129, 16_380, 16_383, 16_384, 16_385]
WORDS = ["", "a", "key", "ключ", "日本語", "😀", "a b", "\u00e9\u0301", "\x7f", "\u2028"]
NUMBERS = [0, 1, -1, 7, 2**53, -(2**53) - 1, 10**20, 0.5, -0.0, 1e308, -1e-308, 5e-324, 3.14]


class Generator:
    """Random JSON values and tasks from a seed: nesting, unicode, strings around the
    varint edges, big and tiny numbers, empty containers and keys."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def text(self) -> str:
        rng = self.rng
        if rng.random() < 0.2:
            return rng.choice("xé😀") * rng.choice(EDGES)
        return "".join(rng.choice(WORDS) for _ in range(rng.randrange(4)))

    def value(self, depth: int = 0) -> Any:
        rng = self.rng
        kind = rng.randrange(7 if depth < 4 else 4)
        if kind == 0:
            return rng.choice([None, True, False])
        if kind == 1:
            return rng.choice(NUMBERS) if rng.random() < 0.5 else rng.uniform(-1e6, 1e6)
        if kind in (2, 3):
            return self.text()
        if kind == 4:
            return [self.value(depth + 1) for _ in range(rng.choice([0, 1, 3, 20]))]
        if kind == 5:
            size = rng.choice([0, 1, 11, 12, 127, 128, 1490])
            return [rng.choice([0, 1.5, None, True, "s", "é"]) for _ in range(size)]
        return {self.text(): self.value(depth + 1) for _ in range(rng.choice([0, 1, 4]))}

    def millis(self) -> int:
        return self.rng.choice([0, 1, 999, 1000, 1001, 86_400_000, 1_700_000_000_123, 2**40])

    def count(self) -> int:
        """A counter (token, attempt) around the varint edges."""
        return self.rng.choice([0, 1, 2, 127, 128, 16_383, 16_384, 2**31, 2**32 - 1])

    def lease(self) -> Lease | None:
        if self.rng.random() < 0.4:
            return None
        token = self.rng.choice([1, 127, 128, 2**40, 2**63])
        return Lease(self.text(), token, self.millis(), self.millis())

    def task(self) -> Task:
        rng = self.rng
        error = None
        if rng.random() < 0.4:
            code = rng.choice([0, 1, -1, 2**31 - 1, -(2**31), 404])
            data = self.value() if rng.random() < 0.5 else UNSET
            error = TaskError(code=code, message=self.text(), data=data)
        return Task(
            task_id="018f3c1e-7b2a-7c3d-8abc-0123456789ab",
            owner="alice",
            status=rng.choice(list(TaskStatus)),
            version=rng.choice([1, 2, 127, 128, 2**40]),
            create_time_ms=self.millis(),
            update_time_ms=self.millis(),
            status_message=self.text(),
            request_method=self.text(),
            ttl_ms=rng.choice([None, self.millis()]),
            expire_time_ms=rng.choice([None, self.millis()]),
            poll_interval_ms=rng.choice([1, 1000, 1500, 86_400_000]),
            variables={self.text() or "k": self.value() for _ in range(rng.randrange(5))},
            result=self.value() if rng.random() < 0.6 else UNSET,
            error=error,
            lease=self.lease(),
            lease_epoch=self.count(),
            lease_policy=rng.choice(list(LeasePolicy)),
            max_attempts=self.count(),
            attempt=self.count(),
        )


BARE = Task(
    task_id="t", owner="o", status=TaskStatus.WORKING, version=1, create_time_ms=0, update_time_ms=0
)
"""A task with the fewest bytes on the wire; tests add to it."""


def wire_size(task: Task) -> int:
    """The size as the transport sends it (the FULL view)."""
    return len(convert.task_out(task).SerializeToString())


@pytest.mark.parametrize("seed", range(20))
def test_task_bytes_is_the_serialized_size(seed):
    gen = Generator(seed)
    for _ in range(20):
        task = gen.task()
        assert wire.task_bytes(task) == wire_size(task), task
        # As stored and read back (integral numbers become ints) it is the same size.
        stored = records.decode(records.encode(task))
        assert wire.task_bytes(stored) == wire.task_bytes(task)


def test_task_bytes_of_a_bare_task():
    task = replace(BARE, version=0, poll_interval_ms=0)
    # task_id, status, the three times, attempt (1 at creation; field 17, a 2-byte tag).
    assert wire.task_bytes(task) == wire_size(task) == 3 + 2 + 2 + 2 + 2 + 3
    assert wire.task_bytes(replace(task, attempt=0)) == wire_size(replace(task, attempt=0)) == 11


@pytest.mark.parametrize("worker", [0, 1, 101, 102, 127, 128, 16_356, 16_357])
def test_task_bytes_of_a_leased_task(worker):
    # The lease's body (the worker id + 26 bytes) and the worker id itself cross the 1- and
    # 2-byte length edges (127, 16383) as the worker id grows.
    for policy in LeasePolicy:
        lease = Lease("w" * worker, 2**40, 1_700_000_000_123, 30_000)
        task = replace(BARE, lease=lease, lease_policy=policy, max_attempts=3, attempt=2)
        assert wire.task_bytes(task) == wire_size(task), (worker, policy)
        zero = replace(task, lease=Lease("", 0, 0, 0), max_attempts=0)
        assert wire.task_bytes(zero) == wire_size(zero)


@pytest.mark.parametrize("n", [0, 1, 11, 12, 1489, 1490, 190_650, 190_651])
def test_lists_across_the_varint_edges(n):
    # n numbers are 11n bytes of list body; 11, 1489 and 190650 sit at the 1-, 2- and
    # 3-byte length edges (127, 16383, 2097151).
    base = Generator(0).task()
    for items in ([0] * n, [True] * (n * 3), ["abc"] * n, ["é" * 70] * min(n, 3000)):
        nested = {"k": [items, {"": items[:1500]}]}
        task = replace(base, variables={"v": items}, result=nested if n < 2000 else UNSET)
        assert wire.task_bytes(task) == wire_size(task)


def test_wire_size_is_at_most_11_2_times_the_record():
    # check_task_size skips the walk for records under MAX / 5.5 on this bound.
    gen = Generator(7)
    variables = {"a": [0] * 1000, "b": [[0]] * 100, "c": 0, "d": [{"": 0}] * 50}
    worst = replace(BARE, variables=variables, result=0)
    for task in [worst, *(gen.task() for _ in range(200))]:
        ratio = wire.task_bytes(task) / len(records.encode(task))
        assert ratio <= wire.PROTO_BYTES_PER_JSON_BYTE, task


# -- TaskStore refuses what a default client could not read ----------------------------------


def zeros(wire_bytes: int) -> list[int]:
    """A list of about `wire_bytes` on the wire: zeros, 11 bytes each (2 as JSON)."""
    return [0] * (wire_bytes // 11)


async def test_store_refuses_a_task_over_the_limit_and_writes_nothing():
    store = TaskStore(MemoryBackend(), Limits(max_active_tasks=10))
    with pytest.raises(VariablesTooLarge) as err:
        await store.create("alice", variables={"nums": zeros(5_000_000)})
    message = str(err.value)
    assert "as a gRPC message, over the 4 MiB every gRPC client accepts" in message
    assert "the largest part is variables.nums at" in message
    assert "2 bytes of JSON and 11 of protobuf" in message  # why 1 MiB of JSON is too big
    assert (await store.list("alice")).tasks == []

    task = await store.create("alice", variables={"nums": zeros(3_300_000)})
    tid = task.task_id
    refusals = [  # each within the JSON limits, each over 4 MiB on the wire
        store.set_variables("alice", tid, {"more": zeros(1_000_000)}),
        store.complete("alice", tid, status=TaskStatus.COMPLETED, result=[1.5] * 100_000),
        store.complete(
            "alice",
            tid,
            status=TaskStatus.FAILED,
            error=TaskError(code=1, message="m", data={"trace": zeros(1_000_000)}),
        ),
        store.update_status("alice", tid, TaskStatus.INPUT_REQUIRED, "s" * 1_000_000),
    ]
    for refusal in refusals:
        with pytest.raises(VariablesTooLarge, match="as a gRPC message"):
            await refusal
    assert await store.get("alice", tid) == task  # version 1, unchanged


async def test_store_limit_is_exact():
    # A fixed clock: every write then takes update_time one ms later, of the same size.
    store = TaskStore(MemoryBackend(), clock=lambda: 1_700_000_000_000)
    task = await store.create("alice", variables={"nums": zeros(3_800_000)})

    def after_update(n: int) -> Task:
        return replace(
            task,
            status=TaskStatus.INPUT_REQUIRED,
            status_message="s" * n,
            version=2,
            update_time_ms=task.update_time_ms + 1,
        )

    n = wire.MAX_TASK_WIRE_BYTES - wire.task_bytes(task)
    while wire.task_bytes(after_update(n)) > wire.MAX_TASK_WIRE_BYTES:
        n -= 1
    assert wire.task_bytes(after_update(n)) == wire.MAX_TASK_WIRE_BYTES, "no exact fit"
    with pytest.raises(VariablesTooLarge):
        await store.update_status("alice", task.task_id, TaskStatus.INPUT_REQUIRED, "s" * (n + 1))
    done = await store.update_status("alice", task.task_id, TaskStatus.INPUT_REQUIRED, "s" * n)
    assert done == after_update(n)
    assert wire_size(done) == wire.MAX_TASK_WIRE_BYTES


async def test_largest_part_follows_the_value_down():
    store = TaskStore(MemoryBackend())
    size = 1_040_000  # each under the 1 MiB caps; together over 4 MiB
    task = await store.create("alice", request_method="r" * size, variables={"v": "v" * size})
    mcp = {"content": [{"type": "text", "text": "hi"}, {"type": "image", "data": "x" * 1_045_000}]}
    with pytest.raises(VariablesTooLarge) as err:
        await store.complete(
            "alice",
            task.task_id,
            status=TaskStatus.COMPLETED,
            status_message="s" * size,
            result=mcp,
        )
    message = str(err.value)
    assert "the largest part is result.content[1].data at 10450" in message, message
    assert "protobuf)" not in message, "strings do not grow on the wire: no word on numbers"
