"""Table management of the DynamoDB backend: create (idempotently), check and drop its table.

Kept apart from the backend because it runs once per deployment (start-up with
`create_table=true`, `taskstate-server init-dynamodb`, tests), not per request.

The table has the secondary indexes of `indexes.INDEXES`. DynamoDB creates local
secondary indexes only with the table, so a table made before them (taskstate 0.1, never
released) cannot be used and is refused with `IncompatibleTable`; its global ones are added
in place by `ensure_table`, and until then `check_table` refuses it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from typing import Any, Final

from ..base import DatabaseUnavailable
from .indexes import INDEXES
from .items import ApiError, IncompatibleTable, call_api

# The backend's logger: these messages are the backend's.
log = logging.getLogger("taskstate_server.backends.dynamodb")

TABLE_ACTIVE_TIMEOUT_S: Final = 120.0


async def ensure_table(client: Any, table: str, *, deadline_s: float) -> None:
    """Creates the table (on demand billing), its TTL and its NEW_IMAGE stream.

    Idempotent: an existing table only gets what it lacks.
    """
    api = functools.partial(call_api, table=table, deadline_s=deadline_s)
    try:
        await api(
            client,
            "create_table",
            expect=("ResourceInUseException",),
            TableName=table,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=_attribute_definitions(),
            LocalSecondaryIndexes=[i.definition() for i in INDEXES if i.local],
            GlobalSecondaryIndexes=[i.definition() for i in INDEXES if not i.local],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )
        log.info("created DynamoDB table %r", table)
    except ApiError:
        pass  # it exists already (or is being created)
    desc = await _wait_active(client, table, deadline_s=deadline_s)
    _check_local_indexes(table, desc)
    for index in _missing_global_indexes(desc):
        # One per call, as DynamoDB wants; each is back-filled before the next.
        with contextlib.suppress(ApiError):  # a racing replica added it
            await api(
                client,
                "update_table",
                expect=("ValidationException", "ResourceInUseException", "LimitExceededException"),
                TableName=table,
                AttributeDefinitions=_attribute_definitions(),
                GlobalSecondaryIndexUpdates=[{"Create": index.definition()}],
            )
            log.info("adding index %r to DynamoDB table %r", index.name, table)
        desc = await _wait_active(client, table, deadline_s=deadline_s)
    spec = desc.get("StreamSpecification") or {}
    if not spec.get("StreamEnabled"):
        await set_stream(client, table, enabled=True, deadline_s=deadline_s)
    elif spec.get("StreamViewType") not in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES"):
        log.warning(
            "table %r has a %s stream: the change feed needs new images and will poll",
            table,
            spec.get("StreamViewType"),
        )
    resp = await api(client, "describe_time_to_live", TableName=table)
    ttl = resp.get("TimeToLiveDescription", {})
    status = ttl.get("TimeToLiveStatus")
    if status in ("ENABLED", "ENABLING"):
        if ttl.get("AttributeName") != "ttl":
            log.warning(
                "table %r expires items by %r, not 'ttl': expired tasks stay stored",
                table,
                ttl.get("AttributeName"),
            )
        return
    with contextlib.suppress(ApiError):  # "already enabled" by a racing replica
        await api(
            client,
            "update_time_to_live",
            expect=("ValidationException",),
            TableName=table,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"},
        )


async def set_stream(client: Any, table: str, *, enabled: bool, deadline_s: float) -> None:
    """Turns the table's NEW_IMAGE stream on or off (a no-op when it already is), then
    waits until the table is active. Off, writes leave no stream records: the change
    feeds of running replicas fall back to polling (`feed`), so only do that before
    any server follows the table (the bench, while it loads history)."""
    resp = await call_api(
        client, "describe_table", table=table, deadline_s=deadline_s, TableName=table
    )
    spec = resp["Table"].get("StreamSpecification") or {}
    if bool(spec.get("StreamEnabled")) != enabled:
        stream: dict[str, Any] = {"StreamEnabled": enabled}
        if enabled:
            stream["StreamViewType"] = "NEW_IMAGE"
        with contextlib.suppress(ApiError):  # a racing replica did it
            await call_api(
                client,
                "update_table",
                table=table,
                deadline_s=deadline_s,
                expect=("ValidationException", "ResourceInUseException"),
                TableName=table,
                StreamSpecification=stream,
            )
    await _wait_active(client, table, deadline_s=deadline_s)


def _attribute_definitions() -> list[dict[str, str]]:
    keys = {("pk", "S"), ("sk", "S")}
    for index in INDEXES:
        keys |= {index.hash_key, index.range_key}
    return [{"AttributeName": name, "AttributeType": kind} for name, kind in sorted(keys)]


def _check_local_indexes(table: str, desc: dict[str, Any]) -> None:
    have = {i["IndexName"] for i in desc.get("LocalSecondaryIndexes") or []}
    missing = [i.name for i in INDEXES if i.local and i.name not in have]
    if missing:
        raise IncompatibleTable(
            f"DynamoDB table {table!r} lacks the local secondary indexes {missing}, which "
            "DynamoDB adds only when a table is created: create a new table (with "
            "`taskstate-server init-dynamodb` or create_table=true) and use that"
        )


def _missing_global_indexes(desc: dict[str, Any]) -> list[Any]:
    have = {i["IndexName"] for i in desc.get("GlobalSecondaryIndexes") or []}
    return [i for i in INDEXES if not i.local and i.name not in have]


async def check_table(client: Any, table: str, *, deadline_s: float) -> None:
    """Raises IncompatibleTable unless the table has every index this version reads."""
    resp = await call_api(
        client, "describe_table", table=table, deadline_s=deadline_s, TableName=table
    )
    desc: dict[str, Any] = resp["Table"]
    _check_local_indexes(table, desc)
    missing = [i.name for i in _missing_global_indexes(desc)]
    if missing:
        raise IncompatibleTable(
            f"DynamoDB table {table!r} lacks the global secondary indexes {missing}: add "
            "them with `taskstate-server init-dynamodb` (or create_table=true)"
        )


async def _wait_active(client: Any, table: str, *, deadline_s: float) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TABLE_ACTIVE_TIMEOUT_S
    while True:
        resp = await call_api(
            client, "describe_table", table=table, deadline_s=deadline_s, TableName=table
        )
        desc: dict[str, Any] = resp["Table"]
        indexes = desc.get("GlobalSecondaryIndexes") or []
        if desc.get("TableStatus") == "ACTIVE" and all(
            i.get("IndexStatus", "ACTIVE") == "ACTIVE" for i in indexes
        ):
            return desc
        if loop.time() >= deadline:
            raise DatabaseUnavailable(
                f"DynamoDB table {table!r} is still {desc.get('TableStatus')}"
            )
        await asyncio.sleep(0.5)


async def drop_table(client: Any, table: str, *, deadline_s: float) -> None:
    """Drops the table (tests)."""
    with contextlib.suppress(DatabaseUnavailable):
        await call_api(client, "delete_table", table=table, deadline_s=deadline_s, TableName=table)
