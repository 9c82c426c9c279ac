"""Turn-taking between replicas on an owner's DynamoDB log, and the retry delays (pure logic:
taskstate_server/backends/dynamodb/turns.py)."""

from __future__ import annotations

import random

import pytest
from taskstate_server.backends.dynamodb.turns import (
    BACKOFF_CAP_S,
    MAX_WAIT_S,
    MIN_TURN_S,
    TURN_AFTER,
    TURN_TRANSACTIONS,
    Turns,
)


def turns(latency_s: float | None = None) -> Turns:
    t = Turns("me", random.Random(7))
    if latency_s is not None:
        for _ in range(100):  # the moving average converges on it
            t.observe(latency_s)
    return t


def test_a_turn_is_asked_after_losing_rounds_in_a_row_and_not_again_while_live():
    t = turns(0.1)
    asks = [t.lost("o", 1000) for _ in range(TURN_AFTER)]
    assert asks[:-1] == [None] * (TURN_AFTER - 1)
    until = asks[-1]
    assert until == 1000 + round(TURN_TRANSACTIONS * 0.1 * 1000)
    assert t.lost("o", 1001) is None  # our request is still live
    assert t.lost("o", until) is not None  # it ended: ask again


def test_a_win_forgets_the_lost_rounds():
    t = turns()
    for _ in range(TURN_AFTER - 1):
        t.lost("o", 0)
    t.won("o")
    assert t.lost("o", 0) is None


def test_owners_are_counted_apart():
    t = turns()
    for _ in range(TURN_AFTER - 1):
        t.lost("a", 0)
    assert t.lost("b", 0) is None


@pytest.mark.parametrize(
    ("latency_s", "turn_s"), [(0.001, MIN_TURN_S), (0.1, TURN_TRANSACTIONS * 0.1), (5, MAX_WAIT_S)]
)
def test_a_turn_lasts_a_few_transactions_within_bounds(latency_s, turn_s):
    assert turns(latency_s).turn_s() == pytest.approx(turn_s)


def test_another_replicas_live_turn_is_waited_for_once():
    t = turns()
    assert t.refused("o", "other", 1500, 1000) == pytest.approx(0.5)
    assert t.cut_ms("o", 1000) == 1501  # waited for: no longer counted
    assert t.refused("o", "other", 1500, 1200) is None


def test_a_turn_from_a_far_clock_is_waited_for_at_most_the_bound():
    assert turns().refused("o", "other", 10**12, 0) == MAX_WAIT_S


def test_a_refusal_without_another_live_turn_is_not_a_turns():
    t = turns()
    assert t.refused("o", None, 0, 1000) is None
    assert t.refused("o", "me", 5000, 1000) is None  # ours never refuses us
    assert t.refused("o", "other", 999, 1000) is None  # ended
    assert t.cut_ms("o", 1000) == 1000


def test_backoff_is_jittered_exponential_from_the_transaction_time_and_bounded():
    fast, slow = turns(0.002), turns(0.2)
    assert max(fast.backoff_s(0) for _ in range(200)) <= 0.005
    assert max(slow.backoff_s(0) for _ in range(200)) <= 0.1
    assert max(slow.backoff_s(0) for _ in range(200)) > 0.05  # scaled up, not the floor
    assert max(slow.backoff_s(3) for _ in range(200)) <= 0.8
    assert max(slow.backoff_s(50) for _ in range(200)) <= BACKOFF_CAP_S
    assert len({slow.backoff_s(2) for _ in range(20)}) > 1  # jittered
