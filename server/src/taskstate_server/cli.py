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


def main(argv: Sequence[str] | None = None) -> int:
    config = None
    try:
        config = parse_config(sys.argv[1:] if argv is None else argv, os.environ)
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
