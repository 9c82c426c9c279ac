"""UUIDv7 task ids (domain/ids.py)."""

from __future__ import annotations

import uuid

import pytest
from taskstate_server.domain.errors import InvalidArgument
from taskstate_server.domain.ids import TaskIdGenerator, validate_task_id

NOW = 1_767_225_600_000


def _ms(task_id: str) -> int:
    return uuid.UUID(task_id).int >> 80


def test_id_is_a_canonical_uuidv7_carrying_the_time():
    task_id, ms = TaskIdGenerator().new(NOW)
    u = uuid.UUID(task_id)
    assert str(u) == task_id
    assert (u.version, u.variant) == (7, uuid.RFC_4122)
    assert ms == NOW == _ms(task_id)
    validate_task_id(task_id)


def test_ids_increase_within_one_millisecond_even_past_the_counter():
    gen = TaskIdGenerator()
    out = [gen.new(NOW) for _ in range(5000)]  # more than the 12-bit counter holds
    ids = [i for i, _ in out]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    # The encoded time is the returned create time, and it never goes backwards.
    assert all(_ms(i) == ms for i, ms in out)
    times = [ms for _, ms in out]
    assert times == sorted(times) and times[0] == NOW and times[-1] > NOW


def test_ids_increase_when_the_clock_goes_backwards():
    gen = TaskIdGenerator()
    a, ms_a = gen.new(NOW)
    b, ms_b = gen.new(NOW - 5000)
    assert b > a and ms_b >= ms_a


def test_ids_follow_the_clock():
    gen = TaskIdGenerator()
    a, _ = gen.new(NOW)
    b, ms = gen.new(NOW + 1)
    assert b > a and ms == NOW + 1


def test_two_generators_make_different_ids_in_one_millisecond():
    assert TaskIdGenerator().new(NOW)[0] != TaskIdGenerator().new(NOW)[0]


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "not-a-uuid",
        str(uuid.uuid4()),
        "018f3c1e-7b2a-7c3d-cabc-0123456789ab",  # wrong variant
        "018F3C1E-7B2A-7C3D-8ABC-0123456789AB",  # not lowercase
        "018f3c1e7b2a7c3d8abc0123456789ab",  # no hyphens
        "018f3c1e-7b2a-7c3d-8abc-0123456789ab\n",
        " 018f3c1e-7b2a-7c3d-8abc-0123456789ab",
    ],
)
def test_validate_rejects_anything_but_lowercase_uuidv7(bad):
    with pytest.raises(InvalidArgument) as e:
        validate_task_id(bad)
    assert e.value.violations[0].field == "task_id"


def test_validate_accepts_a_well_formed_v7():
    validate_task_id("018f3c1e-7b2a-7c3d-8abc-0123456789ab")
