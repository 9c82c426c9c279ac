"""main(): parse, connect, run one command, turn every failure into a message and an exit code."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from taskstate_client._sync_client import TaskClient
from taskstate_client.cli._args import JsonInputs
from taskstate_client.cli._connect import tls_option, unreachable_hint
from taskstate_client.cli._output import Output
from taskstate_client.cli._parser import build_parser
from taskstate_client.cli._usage import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    UsageError,
)
from taskstate_client.errors import TaskStateError, UnavailableError, ValueNotRepresentableError


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(JsonInputs(sys.stdin))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help, --version and on usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return _run(args)
    except UsageError as exc:
        parser.print_usage(sys.stderr)
        print(f"taskstate {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _run(args: argparse.Namespace) -> int:
    out = Output(sys.stdout, compact=args.json)
    client: TaskClient | None = None
    try:
        client = TaskClient(
            args.address, token=args.token, timeout=args.timeout, tls=tls_option(args)
        )
        return int(args.run(client, args, out))
    except ValueNotRepresentableError as exc:  # refused locally: nothing was sent
        _report(exc)
        return EXIT_USAGE
    except UnavailableError as exc:
        hint = None
        if client is not None:
            hint = unreachable_hint(exc, client.address, tls=client.uses_tls)
        if hint is None:
            _report(exc)
        else:
            print(hint, file=sys.stderr)
            print(f"  ({exc.message})", file=sys.stderr)
        return EXIT_ERROR
    except TaskStateError as exc:
        _report(exc)
        return EXIT_ERROR
    except (ValueError, TypeError, OSError) as exc:  # bad input caught client-side
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        if client is not None:
            client.close()


def _report(exc: TaskStateError) -> None:
    """`error: CODE REASON: message`, then the field violations that add something."""
    print(f"error: {exc}", file=sys.stderr)
    for violation in exc.field_violations:
        line = f"{violation.field}: {violation.description}"
        if line not in exc.message:  # the server often says the same thing twice
            print(f"  {line}", file=sys.stderr)
