"""Domain rules through TaskStore on every store: state machine, frozen tasks,
variables and their limits, ttl bounds, task ids, PutIfVersion semantics."""

from __future__ import annotations

import itertools
import uuid

import pytest
from taskstate_server.domain.errors import (
    InvalidArgument,
    InvalidTransition,
    TaskNotFound,
    TaskTerminal,
    VariablesTooLarge,
)
from taskstate_server.domain.model import UNSET, Limits, TaskError, TaskPatch, TaskStatus
from taskstate_server.transport.errors import reason_for

OWNER = "alice"
W, IR = TaskStatus.WORKING, TaskStatus.INPUT_REQUIRED
C, F, X = TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED
TERMINAL = (C, F, X)
# docs/design.md §4.2, written out independently of the implementation.
LEGAL = {(W, IR), (W, C), (W, F), (W, X), (IR, W), (IR, C), (IR, F), (IR, X)}


async def _task_in(store, status: TaskStatus, **create):
    t = await store.create(OWNER, **create)
    if status is W:
        return t
    return await store.update_status(OWNER, t.task_id, status, f"now {status.value}")


# -- state machine -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("src", "dst"),
    list(itertools.product(TaskStatus, TaskStatus)),
    ids=lambda s: s.value,
)
async def test_state_machine(store, src, dst):
    t = await _task_in(store, src)
    assert t.status is src
    if (src, dst) in LEGAL:
        moved = await store.update_status(OWNER, t.task_id, dst, "moved")
        assert (moved.status, moved.status_message, moved.version) == (dst, "moved", t.version + 1)
    else:
        expected = TaskTerminal if src in TERMINAL else InvalidTransition
        with pytest.raises(expected) as e:
            await store.update_status(OWNER, t.task_id, dst, "moved")
        assert reason_for(e.value) == ("TASK_TERMINAL" if src in TERMINAL else "INVALID_TRANSITION")
        assert await store.get(OWNER, t.task_id) == t


async def test_update_status_requires_a_status(store):
    t = await store.create(OWNER)
    with pytest.raises(InvalidArgument):
        await store.update_status(OWNER, t.task_id, None)


async def test_update_status_clears_the_message(store):
    t = await store.create(OWNER)
    t = await store.update_status(OWNER, t.task_id, IR, "what is your name?")
    t = await store.update_status(OWNER, t.task_id, W)
    assert t.status_message == ""


@pytest.mark.parametrize("status", [W, IR, X, None], ids=lambda s: getattr(s, "value", "none"))
async def test_complete_takes_only_completed_or_failed(store, status):
    t = await store.create(OWNER)
    with pytest.raises(InvalidArgument):
        await store.complete(OWNER, t.task_id, status=status)
    assert (await store.get(OWNER, t.task_id)).version == 1


async def test_complete_is_one_atomic_terminal_write(store):
    t = await store.create(OWNER, variables={"keep": 1, "drop": 2})
    err = TaskError(code=-32000, message="boom", data={"retry": False})
    done = await store.complete(
        OWNER,
        t.task_id,
        status=F,
        status_message="failed",
        result={"partial": [1, 2]},
        error=err,
        variables={"drop": None, "new": "v"},
    )
    assert done.version == 2
    assert (done.status, done.status_message) == (F, "failed")
    assert (done.result, done.error) == ({"partial": [1, 2]}, err)
    assert done.variables == {"keep": 1, "new": "v"}
    assert await store.get(OWNER, t.task_id) == done


async def test_complete_from_input_required(store):
    t = await _task_in(store, IR)
    done = await store.complete(OWNER, t.task_id, status=C, result=None)
    assert (done.status, done.result) == (C, None)


# -- frozen terminal tasks ----------------------------------------------------------


@pytest.mark.parametrize("terminal", TERMINAL, ids=lambda s: s.value)
async def test_terminal_task_is_frozen(store, terminal):
    t = await _task_in(store, terminal, variables={"v": 1})
    tid, v = t.task_id, t.version
    mutations = {
        "set_variables": lambda: store.set_variables(OWNER, tid, {"v": 2}),
        "delete_variable": lambda: store.set_variables(OWNER, tid, {"v": None}),
        "complete": lambda: store.complete(OWNER, tid, status=C),
        "fail": lambda: store.complete(OWNER, tid, status=F),
        "cancel": lambda: store.cancel(OWNER, tid),
        "update_status": lambda: store.update_status(OWNER, tid, W),
        "cas_version_ok": lambda: store.set_variables(OWNER, tid, {"v": 3}, expected_version=v),
    }
    patches = {
        "status": TaskPatch(mask=frozenset({"status"}), status=W),
        "same_status": TaskPatch(mask=frozenset({"status"}), status=terminal),
        "status_message": TaskPatch(mask=frozenset({"status_message"}), status_message="m"),
        "variables": TaskPatch(mask=frozenset({"variables"}), variables={"a": 1}),
        "result": TaskPatch(mask=frozenset({"result"}), result=1),
        "error": TaskPatch(mask=frozenset({"error"}), error=TaskError(1, "e")),
        "ttl": TaskPatch(mask=frozenset({"ttl"}), ttl_ms=1000),
        "poll_interval": TaskPatch(mask=frozenset({"poll_interval"}), poll_interval_ms=5),
    }
    for name, patch in patches.items():
        mutations[f"put_if_version[{name}]"] = lambda p=patch: store.put_if_version(
            OWNER, tid, v, p
        )
    for name, op in mutations.items():
        with pytest.raises(TaskTerminal):
            await op()
            pytest.fail(f"{name} mutated a {terminal.value} task")
    # Still readable, listable, waitable, watchable and deletable.
    assert await store.get(OWNER, tid) == t
    assert (await store.list(OWNER)).tasks == [t]
    assert await store.wait(OWNER, tid, timeout_s=5) == t
    assert [x async for x in store.watch(OWNER, tid)] == [t]
    await store.delete(OWNER, tid)
    with pytest.raises(TaskNotFound):
        await store.get(OWNER, tid)


# -- variables ----------------------------------------------------------------------


async def test_set_variables_merges_and_null_deletes(store):
    t = await store.create(OWNER, variables={"a": 1, "b": {"x": 1}, "c": "keep"})
    t = await store.set_variables(OWNER, t.task_id, {"b": {"y": 2}, "a": None, "d": [1, None]})
    # Keys are replaced whole (no deep merge); null deletes; null inside a value stays.
    assert t.variables == {"b": {"y": 2}, "c": "keep", "d": [1, None]}
    t = await store.set_variables(OWNER, t.task_id, {"missing": None})
    assert t.variables == {"b": {"y": 2}, "c": "keep", "d": [1, None]}
    assert (await store.get(OWNER, t.task_id)).variables == t.variables


async def test_null_at_create_is_no_variable(store):
    t = await store.create(OWNER, variables={"a": None, "b": {"n": None}})
    assert t.variables == {"b": {"n": None}}


async def test_json_values_round_trip(store):
    values = {
        "int": 42,
        "neg": -7,
        "big": 2**53 - 1,
        "float": 1.5,
        "tiny": 1e-9,
        "true": True,
        "false": False,
        "text": 'h\u00e9llo \u2603 \U0001f600 "quoted" \\ \n',
        "list": [1, "two", [3], {"four": 4}],
        "obj": {"z": 1, "a": {"m": []}},
        "empty_obj": {},
        "empty_list": [],
        "empty_str": "",
    }
    t = await store.create(OWNER, variables=values)
    got = await store.get(OWNER, t.task_id)
    assert got.variables == values
    assert type(got.variables["true"]) is bool
    assert type(got.variables["float"]) is float


async def test_integral_floats_read_back_as_integers(store):
    t = await store.create(OWNER, variables={"f": 3.0, "nested": [2.0, {"x": -0.0}]})
    got = await store.get(OWNER, t.task_id)
    assert got.variables == {"f": 3, "nested": [2, {"x": 0}]}
    assert type(got.variables["f"]) is int


def _nested(depth: int):
    """A value with `depth` levels of containers around a scalar (a scalar is depth 0)."""
    v: object = "leaf"
    for i in range(depth):
        v = [v] if i % 2 else {"k": v}
    return v


async def test_nesting_depth_10_is_accepted_11_rejected(store):
    t = await store.create(OWNER, variables={"deep": _nested(10)})
    assert (await store.get(OWNER, t.task_id)).variables["deep"] == _nested(10)
    with pytest.raises(InvalidArgument):
        await store.create(OWNER, variables={"deep": _nested(11)})
    with pytest.raises(InvalidArgument):
        await store.set_variables(OWNER, t.task_id, {"deep": _nested(11)})
    with pytest.raises(InvalidArgument):
        await store.complete(OWNER, t.task_id, status=C, result=_nested(11))
    with pytest.raises(InvalidArgument):
        await store.put_if_version(
            OWNER,
            t.task_id,
            1,
            TaskPatch(mask=frozenset({"variables"}), variables={"d": _nested(11)}),
        )
    assert (await store.get(OWNER, t.task_id)).version == 1


async def test_string_limit_is_accepted_one_byte_more_rejected(make_store):
    store = await make_store(Limits(max_string_bytes=65536))
    ok = "x" * 65536
    t = await store.create(OWNER, variables={"s": ok})
    assert (await store.get(OWNER, t.task_id)).variables["s"] == ok
    # Bytes of UTF-8, not characters.
    t = await store.set_variables(OWNER, t.task_id, {"u": "\u00e9" * 32768})
    for too_long in ("x" * 65537, "\u00e9" * 32768 + "x", ["x" * 65537], {"k": "x" * 65537}):
        with pytest.raises(InvalidArgument):
            await store.set_variables(OWNER, t.task_id, {"s": too_long})
    with pytest.raises(InvalidArgument):
        await store.set_variables(OWNER, t.task_id, {"s": {"x" * 65537: 1}})
    with pytest.raises(InvalidArgument):
        await store.create(OWNER, request_method="m" * 65537)
    with pytest.raises(InvalidArgument):
        await store.update_status(OWNER, t.task_id, IR, "m" * 65537)
    assert (await store.get(OWNER, t.task_id)).version == 2


async def test_strings_may_fill_the_variables_cap_by_default(make_store):
    """Issue 8: an MCP tool result with a 70,000-character base64 image is stored."""
    store = await make_store()
    image = {"content": [{"type": "image", "mimeType": "image/png", "data": "A" * 70_000}]}
    t = await store.create(OWNER, variables={"preview": "B" * 70_000})
    done = await store.complete(OWNER, t.task_id, status=C, result=image)
    assert (await store.get(OWNER, t.task_id)).result == image == done.result
    assert done.variables == {"preview": "B" * 70_000}
    # Up to the cap, where the size check (not a string check) has the last word.
    small = await make_store(Limits(max_variables_bytes=1000))
    t = await small.create(OWNER, variables={"s": "x" * 992})  # {"s":"..."} is n + 8 bytes
    with pytest.raises(VariablesTooLarge) as e:
        await small.set_variables(OWNER, t.task_id, {"s": "x" * 993})
    assert "the largest part is variables.s at 999 bytes" in e.value.message
    with pytest.raises(InvalidArgument) as e2:
        await small.update_status(OWNER, t.task_id, IR, "m" * 1001)
    assert e2.value.violations[0].field == "status_message"


async def test_key_length_1_to_256_bytes(store):
    t = await store.create(OWNER)
    for key in ("k", "k" * 256, "\u00e9" * 128, "with space", "\u2603"):
        t = await store.set_variables(OWNER, t.task_id, {key: 1})
        assert key in t.variables
    for key in ("", "k" * 257, "\u00e9" * 128 + "x"):
        with pytest.raises(InvalidArgument):
            await store.set_variables(OWNER, t.task_id, {key: 1})
        with pytest.raises(InvalidArgument):
            await store.create(OWNER, variables={key: 1})


@pytest.mark.parametrize(
    "key", ["a\nb", "\x00", "tab\t", "\x1b[31m", "del\x7f", "\x85next", "a\rb"], ids=repr
)
async def test_control_characters_in_keys_are_rejected(store, key):
    t = await store.create(OWNER)
    with pytest.raises(InvalidArgument):
        await store.set_variables(OWNER, t.task_id, {key: 1})
    with pytest.raises(InvalidArgument):
        await store.create(OWNER, variables={key: 1})


async def test_non_finite_numbers_are_rejected(store):
    t = await store.create(OWNER)
    for bad in (float("nan"), float("inf"), [float("-inf")]):
        with pytest.raises(InvalidArgument):
            await store.set_variables(OWNER, t.task_id, {"n": bad})


async def test_variables_over_the_size_cap(make_store):
    store = await make_store(Limits(max_variables_bytes=1024))
    # Canonical JSON of {"k":"x...x"} is n + 8 bytes.
    at_cap = {"k": "x" * 1016}
    t = await store.create(OWNER, variables=at_cap)
    assert t.variables == at_cap
    with pytest.raises(VariablesTooLarge) as e:
        await store.create(OWNER, variables={"k": "x" * 1017})
    assert reason_for(e.value) == "VARIABLES_TOO_LARGE"
    # The merged map counts, not just the update.
    with pytest.raises(VariablesTooLarge):
        await store.set_variables(OWNER, t.task_id, {"j": 1})
    t = await store.set_variables(OWNER, t.task_id, {"k": None, "j": 1})
    assert t.variables == {"j": 1}
    with pytest.raises(VariablesTooLarge):
        await store.put_if_version(
            OWNER,
            t.task_id,
            t.version,
            TaskPatch(mask=frozenset({"variables"}), variables={"k": "x" * 2000}),
        )
    with pytest.raises(VariablesTooLarge):
        await store.complete(OWNER, t.task_id, status=C, variables={"k": "x" * 2000})
    assert (await store.get(OWNER, t.task_id)).variables == {"j": 1}


# -- ttl, poll interval ---------------------------------------------------------------


async def test_ttl_bounds(store, clock):
    max_ttl = Limits().max_ttl_ms
    t = await store.create(OWNER, ttl_ms=max_ttl)
    assert t.expire_time_ms == clock.now + max_ttl
    t1 = await store.create(OWNER, ttl_ms=1)
    assert t1.expire_time_ms == clock.now + 1
    for bad in (0, -1, max_ttl + 1):
        with pytest.raises(InvalidArgument) as e:
            await store.create(OWNER, ttl_ms=bad)
        assert e.value.violations[0].field == "ttl"
        with pytest.raises(InvalidArgument):
            await store.put_if_version(
                OWNER, t.task_id, 1, TaskPatch(mask=frozenset({"ttl"}), ttl_ms=bad)
            )
    assert len((await store.list(OWNER)).tasks) == 2


async def test_poll_interval(store):
    t = await store.create(OWNER)
    assert t.poll_interval_ms == Limits().default_poll_interval_ms
    t = await store.create(OWNER, poll_interval_ms=250)
    assert t.poll_interval_ms == 250
    for bad in (0, -5):
        with pytest.raises(InvalidArgument):
            await store.create(OWNER, poll_interval_ms=bad)
    t = await store.put_if_version(
        OWNER,
        t.task_id,
        1,
        TaskPatch(mask=frozenset({"poll_interval"}), poll_interval_ms=None),
    )
    assert t.poll_interval_ms == Limits().default_poll_interval_ms


# -- ids ------------------------------------------------------------------------------


async def test_task_ids_are_uuidv7_of_the_create_time(store, clock):
    t = await store.create(OWNER)
    u = uuid.UUID(t.task_id)
    assert str(u) == t.task_id  # canonical lowercase form
    assert u.version == 7
    assert u.variant == uuid.RFC_4122
    assert u.int >> 80 == t.create_time_ms == clock.now


async def test_task_ids_are_time_ordered(store, clock):
    ids = []
    for i in range(30):
        ids.append((await store.create(OWNER)).task_id)
        if i % 10 == 9:
            clock.advance(1)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "nope",
        "0190b5a0-0000-4000-8000-000000000000",
        str(uuid.uuid4()),
        "../etc/passwd",
        "018f3c1e-7b2a-7c3d-8abc-0123456789ab\n",  # a v7 id plus a trailing newline
    ],
)
async def test_malformed_ids_are_invalid_argument(store, bad):
    ops = [
        lambda: store.get(OWNER, bad),
        lambda: store.set_variables(OWNER, bad, {"a": 1}),
        lambda: store.update_status(OWNER, bad, C),
        lambda: store.cancel(OWNER, bad),
        lambda: store.delete(OWNER, bad),
        lambda: store.wait(OWNER, bad, timeout_s=0),
        lambda: anext(store.watch(OWNER, bad)),
    ]
    for op in ops:
        with pytest.raises(InvalidArgument):
            await op()


async def test_unknown_well_formed_id_is_not_found(store):
    t = await store.create(OWNER)
    unknown = t.task_id[:-12] + ("0" * 12 if t.task_id[-12:] != "0" * 12 else "1" * 12)
    with pytest.raises(TaskNotFound):
        await store.get(OWNER, unknown)


# -- PutIfVersion ----------------------------------------------------------------------


async def test_put_if_version_applies_exactly_the_masked_fields(store, clock):
    t = await store.create(OWNER, variables={"a": 1, "b": 2}, request_method="tools/call")
    clock.advance(10)
    t2 = await store.put_if_version(
        OWNER,
        t.task_id,
        1,
        TaskPatch(
            mask=frozenset({"variables", "status_message"}),
            status=C,  # not masked: ignored
            status_message="half way",
            variables={"c": 3},  # replaces the whole map
            result="ignored",
        ),
    )
    assert t2.status is W
    assert t2.status_message == "half way"
    assert t2.variables == {"c": 3}
    assert t2.result is UNSET
    assert (t2.request_method, t2.create_time_ms, t2.expire_time_ms) == (
        t.request_method,
        t.create_time_ms,
        t.expire_time_ms,
    )
    err = TaskError(code=7, message="bad", data=[1])
    t3 = await store.put_if_version(
        OWNER,
        t.task_id,
        2,
        TaskPatch(mask=frozenset({"status", "result", "error"}), status=F, result=0, error=err),
    )
    assert (t3.status, t3.result, t3.error, t3.version) == (F, 0, err, 3)


async def test_put_if_version_clears_result_and_error(store):
    t = await store.create(OWNER)
    t = await store.put_if_version(
        OWNER,
        t.task_id,
        1,
        TaskPatch(mask=frozenset({"result", "error"}), result={"r": 1}, error=TaskError(1, "e")),
    )
    t = await store.put_if_version(
        OWNER, t.task_id, 2, TaskPatch(mask=frozenset({"result", "error"}))
    )
    assert (t.result, t.error) == (UNSET, None)
    assert (await store.get(OWNER, t.task_id)).result is UNSET


async def test_put_if_version_checks_transitions_and_masks(store):
    t = await _task_in(store, IR)
    v = t.version
    with pytest.raises(InvalidArgument):
        await store.put_if_version(OWNER, t.task_id, v, TaskPatch(mask=frozenset()))
    with pytest.raises(InvalidArgument):
        await store.put_if_version(OWNER, t.task_id, v, TaskPatch(mask=frozenset({"owner"})))
    with pytest.raises(InvalidArgument):
        await store.put_if_version(OWNER, t.task_id, v, TaskPatch(mask=frozenset({"version"})))
    with pytest.raises(InvalidArgument):
        await store.put_if_version(
            OWNER, t.task_id, v, TaskPatch(mask=frozenset({"status"}), status=None)
        )
    with pytest.raises(InvalidArgument):
        await store.put_if_version(
            OWNER,
            t.task_id,
            v,
            TaskPatch(mask=frozenset({"variables"}), variables={"": 1}),
        )
    moved = await store.put_if_version(
        OWNER, t.task_id, v, TaskPatch(mask=frozenset({"status"}), status=W)
    )
    assert moved.status is W
    assert await store.get(OWNER, t.task_id) == moved


async def test_strings_that_cannot_be_utf8_are_invalid_argument(store):
    # Records are UTF-8 (docs/design.md §4.9); a lone surrogate has no UTF-8 form.
    # Whatever the input, the store must answer with a domain error, never crash.
    t = await store.create(OWNER)
    ops = {
        "variable value": lambda: store.set_variables(OWNER, t.task_id, {"k": "\ud800"}),
        "nested value": lambda: store.set_variables(OWNER, t.task_id, {"k": ["a\udfff"]}),
        "status_message": lambda: store.update_status(OWNER, t.task_id, IR, "\ud800"),
        "request_method": lambda: store.create(OWNER, request_method="\udfff"),
        "result": lambda: store.complete(OWNER, t.task_id, status=C, result="\ud800"),
    }
    for name, op in ops.items():
        with pytest.raises(InvalidArgument):
            await op()
            pytest.fail(f"{name} accepted a lone surrogate")
    assert (await store.get(OWNER, t.task_id)).version == 1
