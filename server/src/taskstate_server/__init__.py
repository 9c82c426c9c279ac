"""taskstate-server: a durable task-state service for tool handlers, over gRPC.

Layers, one direction: transport (gRPC) -> domain (TaskStore) -> backends.
"""

from .domain import Limits, TaskStore

__all__ = ["Limits", "TaskStore"]
