"""`taskstate-server`: parse configuration, start, serve until SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Sequence

from .backends import StoreURLError
from .backends.base import BackendError
from .config import ConfigError, parse_config
from .transport.auth import TokensFileError


async def _init_dynamodb(url: str) -> None:
    from .backends.dynamodb import DynamoDBBackend

    backend = DynamoDBBackend.from_url(url)
    try:
        await backend.create_table()
    finally:
        await backend.close()


def init_dynamodb(argv: Sequence[str]) -> int:
    """`taskstate-server init-dynamodb [--store URL]`: create the table, its TTL and stream."""
    store = os.environ.get("TASKSTATE_STORE", "")
    args = list(argv)
    if args[:1] == ["--store"] and len(args) == 2:
        store = args[1]
    elif args:
        print(
            "usage: taskstate-server init-dynamodb [--store dynamodb://TABLE?region=...]",
            file=sys.stderr,
        )
        return 2
    if not store.startswith("dynamodb://"):
        print(
            "taskstate-server: init-dynamodb needs a dynamodb:// store URL (--store or "
            "TASKSTATE_STORE)",
            file=sys.stderr,
        )
        return 2
    try:
        asyncio.run(_init_dynamodb(store))
    except (StoreURLError, BackendError) as exc:
        print(f"taskstate-server: {exc}", file=sys.stderr)
        return 1
    print(f"table ready: {store.split('?', 1)[0]}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["init-dynamodb"]:
        return init_dynamodb(args[1:])
    config = None
    try:
        config = parse_config(args, os.environ)
        logging.basicConfig(
            level=config.log_level,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
        from .app import serve

        return asyncio.run(serve(config))
    except (
        ConfigError,
        StoreURLError,
        TokensFileError,
        BackendError,
        OSError,
        RuntimeError,
    ) as exc:
        print(f"taskstate-server: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
