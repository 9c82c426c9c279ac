"""Input requests, their responses, and cancel requests (issue 11): pure rules on a task.

A worker asks (UpdateTaskStatus to input_required with `input_requests`), the requester
answers (ProvideInput), and may ask the worker to stop (RequestCancel). A request key is
unique over the task's lifetime, so an answer is recorded once and never overwritten;
TaskStore applies these functions inside its read-check-CAS loop, and a function that
returns the task it was given makes TaskStore write nothing.
"""

from __future__ import annotations

from dataclasses import replace

from . import describe, records, transitions, validation
from .errors import InvalidArgument
from .model import JSON, Limits, Task, TaskStatus


def check_requests(requests: dict[str, JSON], target: TaskStatus, limits: Limits) -> None:
    """What can be checked before reading the task: keys, values, and the status."""
    if not requests:
        return
    if target is not TaskStatus.INPUT_REQUIRED:
        raise InvalidArgument("input_requests", "are only allowed with TASK_STATUS_INPUT_REQUIRED")
    validation.check_variable_values(requests, limits, "input_requests")


def check_responses(responses: dict[str, JSON], limits: Limits) -> None:
    validation.check_variable_values(responses, limits, "input_responses")


def _merged_requests(task: Task, requests: dict[str, JSON], limits: Limits) -> dict[str, JSON]:
    """`task.input_requests` with `requests` added; a key reused for another request, or
    already answered, is refused (an identical re-send is not a reuse)."""
    merged = dict(task.input_requests)
    for key, value in requests.items():
        path = describe.json_path("input_requests", [key])
        if key in task.input_responses:
            raise InvalidArgument(path, "was already answered; request keys are single-use")
        canonical = records.canonical_value(value)
        if key in merged and merged[key] != canonical:
            raise InvalidArgument(path, "is already used by a different request")
        merged[key] = canonical
    validation.check_size("input_requests", merged, limits)
    return merged


def update_status(
    task: Task,
    target: TaskStatus,
    status_message: str,
    requests: dict[str, JSON],
    limits: Limits,
) -> Task:
    """UpdateTaskStatus: the transition, merging `requests` (already checked) in. Staying
    input_required is a transition only when it adds requests."""
    transitions.check_mutable(task)
    merged = _merged_requests(task, requests, limits) if requests else task.input_requests
    adds = len(merged) > len(task.input_requests)
    if not (adds and task.status is TaskStatus.INPUT_REQUIRED):
        transitions.check(task, target)
    return replace(task, status=target, status_message=status_message, input_requests=merged)


def provide(task: Task, responses: dict[str, JSON], limits: Limits) -> tuple[Task, list[str]]:
    """ProvideInput: the task with the responses to outstanding requests recorded, and
    their keys, sorted. Nothing to record (a terminal task, no outstanding key among
    `responses`) gives back `task` itself. The last answer moves an input_required task
    back to working."""
    if task.status.terminal:
        return task, []
    accepted = sorted(
        k for k in responses if k in task.input_requests and k not in task.input_responses
    )
    if not accepted:
        return task, []
    answers = dict(task.input_responses)
    for key in accepted:
        answers[key] = records.canonical_value(responses[key])
    validation.check_size("input_responses", answers, limits)
    changed = replace(task, input_responses=answers)
    if task.status is TaskStatus.INPUT_REQUIRED and len(answers) >= len(task.input_requests):
        changed = replace(changed, status=TaskStatus.WORKING, status_message="")
    return changed, accepted


def request_cancel(task: Task) -> Task:
    """RequestCancel: sets the flag; a terminal task, or one already flagged, is unchanged."""
    if task.status.terminal or task.cancel_requested:
        return task
    return replace(task, cancel_requested=True)
