"""The state machine (domain/transitions.py) against docs/design.md §4.2."""

from __future__ import annotations

import itertools

import pytest
from taskstate_server.domain import transitions
from taskstate_server.domain.errors import InvalidTransition, TaskTerminal
from taskstate_server.domain.model import Task, TaskStatus

W, IR = TaskStatus.WORKING, TaskStatus.INPUT_REQUIRED
C, F, X = TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED
LEGAL = {(W, IR), (W, C), (W, F), (W, X), (IR, W), (IR, C), (IR, F), (IR, X)}


def task(status: TaskStatus) -> Task:
    return Task("018f3c1e-7b2a-7c3d-8abc-0123456789ab", "o", status, 1, 0, 0)


def test_terminal_statuses():
    assert {s for s in TaskStatus if s.terminal} == {C, F, X}


@pytest.mark.parametrize(("src", "dst"), list(itertools.product(TaskStatus, TaskStatus)))
def test_every_pair(src, dst):
    if (src, dst) in LEGAL:
        transitions.check(task(src), dst)
    elif src.terminal:
        with pytest.raises(TaskTerminal):
            transitions.check(task(src), dst)
    else:
        with pytest.raises(InvalidTransition):
            transitions.check(task(src), dst)


@pytest.mark.parametrize("status", list(TaskStatus))
def test_check_mutable(status):
    if status.terminal:
        with pytest.raises(TaskTerminal):
            transitions.check_mutable(task(status))
    else:
        transitions.check_mutable(task(status))
