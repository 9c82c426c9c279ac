"""The domain layer: TaskStore and the plain-data task model."""

from .errors import TaskStoreError
from .model import Limits, Page, Task, TaskError, TaskPatch, TaskStatus
from .store import TaskStore

__all__ = [
    "Limits",
    "Page",
    "Task",
    "TaskError",
    "TaskPatch",
    "TaskStatus",
    "TaskStore",
    "TaskStoreError",
]
