"""What every store holds: canonical JSON records, identical bytes on every store,
and the capabilities each store declares."""

from __future__ import annotations

import json

from taskstate_server.domain import records
from taskstate_server.domain.model import Limits, TaskError, TaskPatch, TaskStatus
from taskstate_server.domain.store import TaskStore

OWNER = "alice"

VARIABLES = {
    "zeta": 1.0,
    "alpha": {"b": [3.0, 2.5, {"y": True, "x": None}], "a": "caf\u00e9 \u2603 \U0001f600"},
    "Mid": '"quote" \\ back\nline\ttab \u0001',
    "num": -0.0,
    "big": 1e20,
}


def _canonical(data: bytes) -> bytes:
    return json.dumps(
        json.loads(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()


async def _scenario(store: TaskStore, clock) -> list[bytes]:
    """The same sequence of writes on any store; the raw record after each one."""
    raw: list[bytes] = []

    async def snap(task_id: str) -> None:
        rec = await store.backend.get(OWNER, task_id, clock.now)
        assert rec is not None
        raw.append(rec.data)

    t = await store.create(
        OWNER, ttl_ms=60_000, request_method="tools/call", variables=VARIABLES, request_id="r-1"
    )
    await snap(t.task_id)
    clock.advance(7)
    t = await store.set_variables(OWNER, t.task_id, {"zeta": None, "\u00fcber": [1.0]})
    await snap(t.task_id)
    t = await store.update_status(OWNER, t.task_id, TaskStatus.INPUT_REQUIRED, "ja?")
    await snap(t.task_id)
    t = await store.put_if_version(
        OWNER,
        t.task_id,
        t.version,
        TaskPatch(mask=frozenset({"status", "ttl"}), status=TaskStatus.WORKING, ttl_ms=90_000),
    )
    await snap(t.task_id)
    clock.advance(1)
    t = await store.complete(
        OWNER,
        t.task_id,
        status=TaskStatus.FAILED,
        result={"partial": 2.0},
        error=TaskError(code=-32603, message="\u00e9chec", data={"n": 4.0}),
    )
    await snap(t.task_id)
    return raw


async def test_records_are_canonical_json(store, clock):
    for data in await _scenario(store, clock):
        assert data == _canonical(data), data
        # Stored bytes are exactly what the one encoder makes of them.
        assert data == records.encode(records.decode(data))
        assert b"\\u00e9" not in data and "caf\u00e9".encode() in data  # raw UTF-8
        assert b": " not in data and b", " not in data  # no whitespace between tokens
        data.decode("utf-8")  # valid UTF-8
        keys = list(json.loads(data))
        assert keys == sorted(keys)


async def test_integral_floats_are_normalized_in_the_record(store, clock):
    t = await store.create(OWNER, variables={"a": 1.0, "b": [2.0, 2.5], "c": -0.0})
    rec = await store.backend.get(OWNER, t.task_id, clock.now)
    assert rec is not None
    v = json.loads(rec.data)["variables"]
    assert v == {"a": 1, "b": [2, 2.5], "c": 0}
    assert b'"a":1,' in rec.data
    assert b'"b":[2,2.5]' in rec.data
    assert b"1.0" not in rec.data


async def test_record_metadata_matches_the_task(store, clock):
    t = await store.create(OWNER, ttl_ms=5000)
    rec = await store.backend.get(OWNER, t.task_id, clock.now)
    assert rec is not None
    assert (rec.owner, rec.task_id, rec.version, rec.active) == (OWNER, t.task_id, 1, True)
    assert rec.expire_at_ms == t.expire_time_ms == clock.now + 5000
    assert records.decode(rec.data, OWNER) == t
    done = await store.cancel(OWNER, t.task_id)
    rec = await store.backend.get(OWNER, t.task_id, clock.now)
    assert rec is not None
    assert (rec.version, rec.active) == (2, False)
    assert records.decode(rec.data, OWNER) == done


async def test_same_logical_record_is_the_same_bytes_on_every_store(
    all_specs, open_store, make_clock
):
    """Runs one scenario on each selected store; the bytes may differ only by task id."""
    outputs: dict[str, list[bytes]] = {}
    for spec in all_specs:
        clock = make_clock()
        raw = await _scenario(await open_store(spec, clock), clock)
        task_id = json.loads(raw[0])["task_id"].encode()
        outputs[spec.name] = [d.replace(task_id, b"<task-id>") for d in raw]
    assert len(outputs) == len(all_specs)
    reference_name, reference = next(iter(outputs.items()))
    for name, data in outputs.items():
        assert data == reference, f"{name} stores different bytes from {reference_name}"


async def test_declared_capabilities_match_the_backend(spec, backend):
    assert backend.max_record_bytes == spec.max_record_bytes
    assert backend.max_active_limit == spec.max_active_limit
    await backend.ping()


async def test_store_lowers_the_variables_cap_to_the_backend_item_limit(spec, backend):
    store = TaskStore(backend, Limits())
    if spec.max_record_bytes is None:
        assert store.limits.max_variables_bytes == Limits().max_variables_bytes
    else:
        assert store.limits.max_variables_bytes < spec.max_record_bytes


async def test_store_lowers_the_quota_to_the_backend_limit(spec, backend):
    asked = Limits(max_active_tasks=1_000_000)
    store = TaskStore(backend, asked)
    assert store.limits.max_active_tasks == (spec.max_active_limit or asked.max_active_tasks)
    assert TaskStore(backend, Limits()).limits.max_active_tasks == Limits().max_active_tasks
