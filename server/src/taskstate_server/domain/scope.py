"""Subject scoping (issue 11): what a call made on behalf of an end user may see.

`subject` None is a call without the `taskstate-subject` metadata: it sees every task of
its owner. A subject sees only the tasks created under that exact subject; any other task
is, to it, indistinguishable from a missing one.
"""

from __future__ import annotations

from . import validation
from .model import Task

Subject = str | None
"""The scope of a call: a subject, or None for the owner's whole view."""


def check(subject: Subject) -> None:
    if subject is not None:
        validation.check_subject(subject)


def visible(task: Task, subject: Subject) -> bool:
    return subject is None or task.subject == subject


def request_key(request_id: str | None, subject: str) -> str | None:
    """The key a backend's request-id index stores, so idempotency is per (owner, subject).

    A plain request id for the subject-less (its key is unchanged from before subjects
    existed); else the id and the subject joined by a newline, which neither may contain
    (both are printable), so no two scopes share a key."""
    if request_id is None or not subject:
        return request_id
    return f"{request_id}\n{subject}"
