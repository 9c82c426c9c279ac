"""`taskstate-server`: serve (no subcommand), or run one of the subcommands."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Mapping, Sequence

from .backends import StoreURLError
from .backends.base import BackendError
from .backends.stores import stores_help
from .commands import backup, init_dynamodb
from .config import ConfigError, add_serve_flags, config_from_args
from .transport.auth import TokensFileError
from .version import server_version

COMMANDS = {c.NAME: c for c in (init_dynamodb, backup)}

STORES_HELP = f"""\
stores (--store URL, env TASKSTATE_STORE):
{stores_help()}

Every flag can also be set as TASKSTATE_<NAME> (e.g. --max-ttl is TASKSTATE_MAX_TTL); a flag
wins over its variable. Run `taskstate-server COMMAND --help` for a subcommand's flags.
"""


def build_parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="taskstate-server",
        description="taskstate: a durable task-state service for tool handlers, over gRPC. "
        "Without a command it serves until SIGTERM/SIGINT.",
        epilog=STORES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"taskstate-server {server_version()}"
    )
    add_serve_flags(parser, env)
    subparsers = parser.add_subparsers(
        dest="command", title="commands (optional; without one, the server serves)"
    )
    for command in COMMANDS.values():
        command.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser(os.environ).parse_args(sys.argv[1:] if argv is None else argv)
    if args.command is not None:
        code: int = COMMANDS[args.command].run(args)
        return code
    try:
        config = config_from_args(args)
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
