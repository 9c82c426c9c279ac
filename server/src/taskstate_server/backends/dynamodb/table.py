"""Table management of the DynamoDB backend: create (idempotently) and drop its table.

Kept apart from the backend because it runs once per deployment (start-up with
`create_table=true`, `taskstate-server init-dynamodb`, tests), not per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from typing import Any, Final

from ..base import DatabaseUnavailable
from .items import ApiError, call_api

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
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )
        log.info("created DynamoDB table %r", table)
    except ApiError:
        pass  # it exists already (or is being created)
    desc = await _wait_active(client, table, deadline_s=deadline_s)
    spec = desc.get("StreamSpecification") or {}
    if not spec.get("StreamEnabled"):
        with contextlib.suppress(ApiError):
            await api(
                client,
                "update_table",
                expect=("ValidationException", "ResourceInUseException"),
                TableName=table,
                StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
            )
        await _wait_active(client, table, deadline_s=deadline_s)
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


async def _wait_active(client: Any, table: str, *, deadline_s: float) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TABLE_ACTIVE_TIMEOUT_S
    while True:
        resp = await call_api(
            client, "describe_table", table=table, deadline_s=deadline_s, TableName=table
        )
        desc: dict[str, Any] = resp["Table"]
        if desc.get("TableStatus") == "ACTIVE":
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
