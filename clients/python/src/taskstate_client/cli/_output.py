"""What the CLI prints: pretty JSON for people, one compact line with --json or per stream event."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TextIO

from taskstate_client.models import Task, TaskView

_TABLE_HEADER = ("TASK_ID", "STATUS", "VERSION", "UPDATED", "METHOD")


class Output:
    def __init__(self, stream: TextIO, *, compact: bool) -> None:
        self.stream = stream
        self.compact = compact

    def line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()  # a pipe reader (watch | jq) sees each line as it happens

    def json(self, obj: Any, *, compact: bool | None = None) -> None:
        if self.compact if compact is None else compact:
            self.line(json.dumps(obj, separators=(",", ":"), ensure_ascii=False))
        else:
            self.line(json.dumps(obj, indent=2, ensure_ascii=False))

    def task(self, task: Task) -> None:
        self.json(task.to_dict())

    def event(self, task: Task, view: TaskView = TaskView.FULL) -> None:
        """One line per version in a stream, whatever --json says: streams are for pipes."""
        self.json(task_dict(task, view), compact=True)

    def table(self, tasks: Sequence[Task]) -> None:
        rows = [_TABLE_HEADER]
        rows += [
            (
                t.task_id,
                str(t.status),
                str(t.version),
                t.update_time.strftime("%Y-%m-%d %H:%M:%S"),
                t.request_method,
            )
            for t in tasks
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(_TABLE_HEADER))]
        for row in rows:
            cells = (cell.ljust(w) for cell, w in zip(row, widths, strict=True))
            self.line("  ".join(cells).rstrip())


def task_dict(task: Task, view: TaskView) -> dict[str, Any]:
    """A BASIC task has no variables to show: leave the key out rather than print {}."""
    out = task.to_dict()
    if view is TaskView.BASIC:
        out.pop("variables", None)
    return out
