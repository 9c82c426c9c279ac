"""Input requests, ProvideInput and RequestCancel (issue 11) through TaskStore, on every
store: the merge rules of UpdateTaskStatus(input_requests), which answers ProvideInput
records, the return to working, and that nothing is written when nothing changes."""

from __future__ import annotations

import pytest
from taskstate_server.domain.errors import (
    InvalidArgument,
    InvalidTransition,
    TaskTerminal,
    VariablesTooLarge,
)
from taskstate_server.domain.model import LeasePolicy, Limits, TaskStatus

OWNER = "alice"
W, IR = TaskStatus.WORKING, TaskStatus.INPUT_REQUIRED
C, F, X = TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED
Q1 = {"message": "Which one?", "schema": {"type": "string"}}
Q2 = {"message": "Sure?"}


async def _asking(store, requests, **create):
    t = await store.create(OWNER, **create)
    return await store.update_status(OWNER, t.task_id, IR, "need input", input_requests=requests)


async def test_requests_are_recorded_with_input_required(store):
    t = await _asking(store, {"q1": Q1, "q2": Q2})
    assert (t.status, t.version, t.status_message) == (IR, 2, "need input")
    assert t.input_requests == {"q1": Q1, "q2": Q2}
    assert (t.input_responses, t.outstanding_input) == ({}, ["q1", "q2"])
    assert await store.get(OWNER, t.task_id) == t


@pytest.mark.parametrize("status", [W, C, F, X])
async def test_requests_with_another_status_are_invalid(store, status):
    t = await store.create(OWNER)
    with pytest.raises(InvalidArgument):
        await store.update_status(OWNER, t.task_id, status, input_requests={"q": 1})
    assert await store.get(OWNER, t.task_id) == t


async def test_adding_requests_while_input_required_is_allowed(store):
    t = await _asking(store, {"q1": Q1})
    more = await store.update_status(OWNER, t.task_id, IR, "more", input_requests={"q2": Q2})
    assert (more.version, more.input_requests) == (3, {"q1": Q1, "q2": Q2})
    assert more.status_message == "more"


async def test_an_identical_resend_is_fine_but_no_new_request_is_a_self_transition(store):
    t = await _asking(store, {"q1": Q1})
    with pytest.raises(InvalidTransition):
        await store.update_status(OWNER, t.task_id, IR, input_requests={"q1": Q1})
    with pytest.raises(InvalidTransition):
        await store.update_status(OWNER, t.task_id, IR)
    both = await store.update_status(OWNER, t.task_id, IR, input_requests={"q1": Q1, "q2": Q2})
    assert both.input_requests == {"q1": Q1, "q2": Q2}


async def test_a_key_reused_for_another_request_is_invalid(store):
    t = await _asking(store, {"q1": Q1})
    with pytest.raises(InvalidArgument) as e:
        await store.update_status(OWNER, t.task_id, IR, input_requests={"q1": Q2, "q3": 1})
    assert "input_requests" in e.value.message
    assert await store.get(OWNER, t.task_id) == t


async def test_an_answered_key_cannot_be_asked_again(store):
    t = await _asking(store, {"q1": Q1})
    answered, keys = await store.provide_input(OWNER, t.task_id, {"q1": "yes"})
    assert (keys, answered.status) == (["q1"], W)
    for again in ({"q1": Q1}, {"q1": "other"}):
        with pytest.raises(InvalidArgument):
            await store.update_status(OWNER, t.task_id, IR, input_requests=again)
    assert await store.get(OWNER, t.task_id) == answered


@pytest.mark.parametrize(
    "requests", [{"": 1}, {"bad\nkey": 1}, {"k" * 257: 1}, {"k": float("nan")}]
)
async def test_malformed_requests_are_invalid(store, requests):
    t = await store.create(OWNER)
    with pytest.raises(InvalidArgument):
        await store.update_status(OWNER, t.task_id, IR, input_requests=requests)


async def test_requests_count_toward_the_size_limit(make_store):
    store = await make_store(limits=Limits(max_variables_bytes=2048))
    t = await store.create(OWNER)
    with pytest.raises(VariablesTooLarge):
        await store.update_status(OWNER, t.task_id, IR, input_requests={"q": "x" * 4096})
    t2 = await _asking(store, {"q": 1})
    with pytest.raises(VariablesTooLarge):
        await store.provide_input(OWNER, t2.task_id, {"q": "x" * 4096})
    assert await store.get(OWNER, t2.task_id) == t2


async def test_partial_answers_keep_input_required_and_the_last_returns_to_working(store):
    t = await _asking(store, {"q1": Q1, "q2": Q2})
    part, keys = await store.provide_input(OWNER, t.task_id, {"q2": False, "nope": 1})
    assert keys == ["q2"]
    assert (part.status, part.version, part.status_message) == (IR, 3, "need input")
    assert (part.input_responses, part.outstanding_input) == ({"q2": False}, ["q1"])
    done, keys = await store.provide_input(OWNER, t.task_id, {"q1": "a", "q2": True})
    assert keys == ["q1"]  # q2 was answered already: the first answer stays
    assert (done.status, done.version, done.status_message) == (W, 4, "")
    assert done.input_responses == {"q1": "a", "q2": False}
    assert done.outstanding_input == []


async def test_accepted_keys_are_sorted(store):
    t = await _asking(store, {k: 1 for k in ("c", "a", "b")})
    _, keys = await store.provide_input(OWNER, t.task_id, {"c": 1, "b": 2, "a": 3})
    assert keys == ["a", "b", "c"]


async def test_nothing_accepted_writes_nothing(store):
    t = await _asking(store, {"q1": Q1})
    for responses in ({}, {"unknown": 1}):
        same, keys = await store.provide_input(OWNER, t.task_id, responses)
        assert (same, keys) == (t, [])
    answered, _ = await store.provide_input(OWNER, t.task_id, {"q1": 1})
    same, keys = await store.provide_input(OWNER, t.task_id, {"q1": 2})
    assert (same, keys) == (answered, [])


async def test_answering_a_working_task_keeps_it_working(store):
    t = await _asking(store, {"q1": Q1, "q2": Q2})
    back = await store.update_status(OWNER, t.task_id, W, "carrying on")
    answered, keys = await store.provide_input(OWNER, t.task_id, {"q1": 1, "q2": 2})
    assert keys == ["q1", "q2"]
    assert (answered.status, answered.status_message, answered.version) == (
        W,
        "carrying on",
        back.version + 1,
    )


@pytest.mark.parametrize("end", [C, F, X])
async def test_a_terminal_task_takes_no_answers_and_no_requests(store, end):
    t = await _asking(store, {"q1": Q1})
    if end is X:
        ended = await store.cancel(OWNER, t.task_id)
    else:
        ended = await store.complete(OWNER, t.task_id, status=end)
    same, keys = await store.provide_input(OWNER, t.task_id, {"q1": 1})
    assert (same, keys) == (ended, [])
    with pytest.raises(TaskTerminal):
        await store.update_status(OWNER, t.task_id, IR, input_requests={"q2": 1})


async def test_provide_input_is_not_fenced_and_keeps_the_lease(store, indexed):
    t = await store.create(OWNER, lease_policy=LeasePolicy.FAIL)
    claimed = await store.claim(OWNER, worker_id="w", task_id=t.task_id)
    assert claimed is not None and claimed.lease is not None
    token = claimed.lease.token
    # A worker staying working may still ask (its lease lasts only while working).
    more = await store.set_variables(OWNER, t.task_id, {"x": 1}, fencing_token=token)
    asked = await store.update_status(
        OWNER, t.task_id, IR, input_requests={"q": 1}, fencing_token=token
    )
    assert asked.lease is None  # leaving working ends the lease (as before)
    answered, _ = await store.provide_input(OWNER, t.task_id, {"q": 2})
    assert answered.status is W and answered.version == more.version + 2


async def test_request_cancel_sets_the_flag_once(store):
    t = await store.create(OWNER)
    assert t.cancel_requested is False
    flagged = await store.request_cancel(OWNER, t.task_id)
    assert (flagged.cancel_requested, flagged.version, flagged.status) == (True, 2, W)
    assert await store.request_cancel(OWNER, t.task_id) == flagged
    assert await store.get(OWNER, t.task_id) == flagged
    cancelled = await store.cancel(OWNER, t.task_id)
    assert (cancelled.status, cancelled.cancel_requested) == (X, True)


@pytest.mark.parametrize("end", [C, F, X])
async def test_request_cancel_of_a_terminal_task_is_a_no_op(store, end):
    t = await store.create(OWNER)
    ended = (
        await store.cancel(OWNER, t.task_id)
        if end is X
        else await store.complete(OWNER, t.task_id, status=end)
    )
    assert await store.request_cancel(OWNER, t.task_id) == ended


async def test_request_cancel_keeps_the_lease_and_the_holder_still_writes(store, indexed):
    t = await store.create(OWNER, lease_policy=LeasePolicy.FAIL)
    claimed = await store.claim(OWNER, worker_id="w", task_id=t.task_id)
    assert claimed is not None and claimed.lease is not None
    flagged = await store.request_cancel(OWNER, t.task_id)
    assert flagged.lease == claimed.lease and flagged.cancel_requested
    done = await store.cancel(OWNER, t.task_id)
    assert done.status is X


async def test_watch_sees_the_cancel_request(store):
    t = await store.create(OWNER)
    stream = store.watch(OWNER, t.task_id)
    assert (await anext(stream)).version == 1
    await store.request_cancel(OWNER, t.task_id)
    seen = await anext(stream)
    assert (seen.version, seen.cancel_requested) == (2, True)
    await stream.aclose()
