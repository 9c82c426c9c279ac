"""The argument parser: global options (accepted before or after the command) and every command."""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from typing import Any

from taskstate_client._config import ADDRESS_ENV, DEFAULT_ADDRESS, DEFAULT_TIMEOUT, TOKEN_ENV
from taskstate_client._tls import CA_CERT_ENV, CLIENT_CERT_ENV, CLIENT_KEY_ENV, TLS_ENV
from taskstate_client._version import client_version
from taskstate_client.cli import _lease, _read, _write
from taskstate_client.cli._args import JsonInputs, duration_arg
from taskstate_client.cli._usage import EXIT_CODES_HELP

_EPILOG = f"""\
JSON arguments (--result, --data, --var NAME=JSON, ...) may be inline, @FILE or - (stdin).
Durations: 500ms, 90s, 5m, 1h (a bare number is seconds).
TLS: --tls/--plaintext win; else https:// or http:// in the address; else plaintext
for a loopback host (localhost, 127.0.0.1, ::1) and TLS for any other.
Environment: {ADDRESS_ENV}, {TOKEN_ENV}, {TLS_ENV} (true/false), {CA_CERT_ENV},
{CLIENT_CERT_ENV}, {CLIENT_KEY_ENV}.
{EXIT_CODES_HELP}"""


def build_parser(inputs: JsonInputs | None = None) -> argparse.ArgumentParser:
    """`inputs` reads @FILE and - arguments (default: this process's stdin)."""
    inputs = inputs or JsonInputs(sys.stdin)
    parser = argparse.ArgumentParser(
        prog="taskstate",
        description="Create, inspect, update, wait for and watch taskstate tasks.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"taskstate {client_version()}")
    _add_globals(parser, suppress=False)
    # The same options after the command too (`taskstate get ID --json`), with
    # SUPPRESS defaults so a subcommand cannot reset what came before it.
    common = argparse.ArgumentParser(add_help=False)
    _add_globals(common, suppress=True)
    common_wait = argparse.ArgumentParser(add_help=False)  # its --timeout is the wait's own
    _add_globals(common_wait, suppress=True, call_timeout=False)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _write.register(sub, [common], inputs)
    _read.register(sub, [common], [common_wait])
    _lease.register(sub, [common])
    return parser


def _add_globals(
    parser: argparse.ArgumentParser, *, suppress: bool, call_timeout: bool = True
) -> None:
    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument(
        "--address",
        default=default(None),
        help=f"server host:port, https://host:port or http://host:port "
        f"(env {ADDRESS_ENV}, default {DEFAULT_ADDRESS})",
    )
    parser.add_argument("--token", default=default(None), help=f"bearer token (env {TOKEN_ENV})")
    if call_timeout:
        parser.add_argument(
            "--timeout",
            type=duration_arg,
            default=default(timedelta(seconds=DEFAULT_TIMEOUT)),
            help=f"deadline of each call (default {DEFAULT_TIMEOUT:g}s)",
        )
    parser.add_argument(
        "--json",
        action="store_true",
        default=default(False),
        help="machine-readable output: compact JSON, one line",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--tls",
        dest="tls_mode",
        action="store_const",
        const=True,
        default=default(None),
        help=f"use TLS whatever the host (env {TLS_ENV}=true)",
    )
    mode.add_argument(
        "--plaintext",
        dest="tls_mode",
        action="store_const",
        const=False,
        default=default(None),
        help=f"no TLS whatever the host (env {TLS_ENV}=false)",
    )
    for flag, env, what in (
        ("--ca-cert", CA_CERT_ENV, "CA certificate (PEM) to trust instead of the system roots"),
        ("--client-cert", CLIENT_CERT_ENV, "client certificate (PEM) for mutual TLS"),
        ("--client-key", CLIENT_KEY_ENV, "its private key (PEM)"),
    ):
        parser.add_argument(
            flag, default=default(None), metavar="FILE", help=f"{what}; implies TLS (env {env})"
        )
