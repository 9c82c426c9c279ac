"""The memory store (`memory://`): process-local, for tests and throwaway runs. `backend` has
the records, quota and request ids; `indexes` the status, claim and lease indexes
(`Feature.INDEXES`); `events` the per-owner event log (`Feature.EVENT_LOG`)."""

from .backend import MemoryBackend

__all__ = ["MemoryBackend"]
