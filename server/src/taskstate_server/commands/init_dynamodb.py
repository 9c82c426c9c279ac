"""`taskstate-server init-dynamodb --store dynamodb://TABLE?...`: create the table, its
indexes, TTL and stream."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING, Any, cast

from ..backends import StoreURLError
from ..backends.base import BackendError
from ..backends.stores import store_named
from . import add_store_flag, store_url

if TYPE_CHECKING:
    from ..backends.dynamodb import DynamoDBBackend

NAME = "init-dynamodb"


def add_parser(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="create the DynamoDB table (with its indexes, TTL and stream) a dynamodb:// "
        "store needs",
        description="Creates the table of a dynamodb:// store, its secondary indexes, its TTL "
        "attribute and its stream, idempotently (an existing, complete table is left alone; "
        "missing global indexes are added; a table without the local ones is refused). Run "
        "it once before the first server, or put create_table=true in the store URL instead.",
    )
    add_store_flag(p, "the table's store URL, e.g. dynamodb://taskstate?region=eu-west-1", None)


async def _create(url: str) -> None:
    # Raises MissingExtraError (a StoreURLError) on an install without the [dynamodb] extra.
    backend_class = cast("type[DynamoDBBackend]", store_named("dynamodb").load())
    backend = backend_class.from_url(url)
    try:
        await backend.create_table()
    finally:
        await backend.close()


def run(args: argparse.Namespace) -> int:
    url = store_url(args)
    if not url.startswith("dynamodb://"):
        print(
            "taskstate-server: init-dynamodb needs a dynamodb:// store URL (--store or "
            "TASKSTATE_STORE), e.g. dynamodb://taskstate?region=eu-west-1",
            file=sys.stderr,
        )
        return 2
    try:
        asyncio.run(_create(url))
    except (StoreURLError, BackendError) as exc:
        print(f"taskstate-server: {exc}", file=sys.stderr)
        return 1
    print(f"table ready: {url.split('?', 1)[0]}")
    return 0
