"""The task state machine (docs/design.md §4.2)."""

from __future__ import annotations

from .errors import InvalidTransition, TaskTerminal
from .model import Task, TaskStatus

_W, _I = TaskStatus.WORKING, TaskStatus.INPUT_REQUIRED
_C, _F, _X = TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED

LEGAL: dict[TaskStatus, frozenset[TaskStatus]] = {
    _W: frozenset({_I, _C, _F, _X}),
    _I: frozenset({_W, _C, _F, _X}),
    _C: frozenset(),
    _F: frozenset(),
    _X: frozenset(),
}


def check_mutable(task: Task) -> None:
    """Terminal tasks are frozen: any mutation is refused."""
    if task.status.terminal:
        raise TaskTerminal(f"task {task.task_id} is {task.status.value} and can no longer change")


def check(task: Task, target: TaskStatus) -> None:
    check_mutable(task)
    if target not in LEGAL[task.status]:
        raise InvalidTransition(
            f"task {task.task_id} cannot move from {task.status.value} to {target.value}"
        )
