"""Subcommands of `taskstate-server` other than serving (which needs no subcommand).

Each module has `NAME`, `add_parser(subparsers)` and `run(args) -> exit code`.
"""

from __future__ import annotations

import argparse


def add_store_flag(parser: argparse.ArgumentParser, what: str, default: str | None) -> None:
    """A command's own --store. Not given, the command takes the --store given before it
    (`taskstate-server --store URL backup DEST`), which itself defaults to TASKSTATE_STORE:
    so a command never silently works on another store than the flags around it name."""
    shown = f"; default: {default}" if default else ""
    parser.add_argument(
        "--store",
        dest="command_store",
        metavar="URL",
        help=f"{what} [env TASKSTATE_STORE{shown}]",
    )


def store_url(args: argparse.Namespace) -> str:
    """The command's --store, else the top-level one (flag, TASKSTATE_STORE or default)."""
    url: str = args.command_store or args.store or ""
    return url
