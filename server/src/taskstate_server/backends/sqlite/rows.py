"""How a `tasks` row maps to a `Record`, shared by the modules that read tasks."""

from __future__ import annotations

from typing import Any, Final

from ..base import Record

COLUMNS: Final = (
    "owner, task_id, version, data, active, expire_at, status, lease_until, claim_group"
)
"""The columns `record` reads, in its order."""
UNEXPIRED: Final = "(expire_at IS NULL OR expire_at > ?)"
"""The condition every read adds: an expired row does not exist (one `now_ms` parameter)."""


def to_record(row: tuple[Any, ...]) -> Record:
    owner, task_id, version, data, active, expire_at, status, lease_until, claim_group = row
    return Record(
        owner=owner,
        task_id=task_id,
        version=version,
        data=bytes(data),
        active=bool(active),
        expire_at_ms=expire_at,
        status=status,
        lease_until_ms=lease_until,
        claim_group=claim_group,
    )


def values(record: Record) -> tuple[Any, ...]:
    """The written columns after the key: version, data, active, expire_at and the facts."""
    return (
        record.version,
        record.data,
        int(record.active),
        record.expire_at_ms,
        record.status,
        record.lease_until_ms,
        record.claim_group,
    )
