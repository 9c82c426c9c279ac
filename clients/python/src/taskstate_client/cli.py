"""`taskstate`: the command-line face of the client, for shells, scripts and debugging.

Exit codes: 0 success; 1 the server (or the connection) refused; 2 usage
errors; 3 `wait` gave up before the task reached the wanted status; 130
interrupted. Errors go to stderr as `error: CODE REASON: message`, so scripts
can match on the reason.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, TextIO

from taskstate_client._config import ADDRESS_ENV, DEFAULT_ADDRESS, DEFAULT_TIMEOUT, TOKEN_ENV
from taskstate_client._convert import coerce_status
from taskstate_client._duration import parse_duration
from taskstate_client._json import JSON
from taskstate_client._requests import DEFAULT_FAIL_CODE
from taskstate_client._sentinel import MISSING
from taskstate_client._sync_client import TaskClient
from taskstate_client.errors import TaskStateError
from taskstate_client.models import Task, TaskStatus

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_WAIT_TIMEOUT = 3
EXIT_INTERRUPTED = 130


# -- argument types (argparse turns their errors into usage errors) ----------


def duration_arg(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def json_arg(text: str) -> JSON:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(
            f"invalid JSON {text!r} ({exc.msg}); quote strings, e.g. '\"text\"'"
        ) from None


def var_arg(text: str) -> tuple[str, JSON]:
    """NAME=JSON; JSON is strict so that `n=1` and `n="1"` stay different things."""
    name, sep, raw = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=JSON, got {text!r}")
    try:
        return name, json.loads(raw)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(
            f"invalid JSON for {name!r}: {raw!r} ({exc.msg}); quote strings, e.g. {name}='\"text\"'"
        ) from None


def status_arg(text: str) -> TaskStatus:
    try:
        return coerce_status(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {value}")
    return value


# -- the parser ---------------------------------------------------------------


def _add_globals(
    parser: argparse.ArgumentParser, *, suppress: bool, call_timeout: bool = True
) -> None:
    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument(
        "--address",
        default=default(None),
        help=f"server host:port (env {ADDRESS_ENV}, default {DEFAULT_ADDRESS})",
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="taskstate",
        description="Create, inspect, update, wait for and watch taskstate tasks.",
        epilog="Durations: 500ms, 90s, 5m, 1h (a bare number is seconds). "
        "Exit codes: 0 ok, 1 server error, 2 usage, 3 wait timed out.",
    )
    _add_globals(parser, suppress=False)
    # The same options after the command too (`taskstate get ID --json`), with
    # SUPPRESS defaults so a subcommand cannot reset what came before it.
    common = argparse.ArgumentParser(add_help=False)
    _add_globals(common, suppress=True)
    common_wait = argparse.ArgumentParser(add_help=False)  # its --timeout is the wait's own
    _add_globals(common_wait, suppress=True, call_timeout=False)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("create", parents=[common], help="create a task (prints it)")
    p.add_argument("--ttl", type=duration_arg, help="time to live (default: server's)")
    p.add_argument("--poll-interval", type=duration_arg, help="suggested poll interval")
    p.add_argument("--method", default="", help="request method, e.g. tools/call")
    p.add_argument(
        "--var",
        type=var_arg,
        action="append",
        default=[],
        metavar="NAME=JSON",
        help="initial variable (repeatable)",
    )
    p.add_argument("--request-id", help="idempotency key: a retry returns the same task")

    p = sub.add_parser("get", parents=[common], help="print a task")
    p.add_argument("task_id", metavar="ID")

    p = sub.add_parser("list", parents=[common], help="list your tasks, newest first")
    p.add_argument(
        "--status", type=status_arg, action="append", default=[], help="filter (repeatable)"
    )
    p.add_argument("--page-size", type=positive_int, default=0, help="tasks per page")
    p.add_argument("--page-token", default="", help="continue from a previous page")
    p.add_argument("--all", action="store_true", help="follow every page")

    p = sub.add_parser("set-var", parents=[common], help="merge variables (a null value deletes)")
    p.add_argument("task_id", metavar="ID")
    p.add_argument("vars", type=var_arg, nargs="+", metavar="NAME=JSON")

    p = sub.add_parser("complete", parents=[common], help="complete (or with --fail, fail) a task")
    p.add_argument("task_id", metavar="ID")
    outcome = p.add_mutually_exclusive_group()
    outcome.add_argument(
        "--result", type=json_arg, default=MISSING, metavar="JSON", help="the result"
    )
    outcome.add_argument("--fail", action="store_true", help="fail the task instead")
    p.add_argument("--code", type=int, help=f"error code with --fail (default {DEFAULT_FAIL_CODE})")
    p.add_argument("--message", help="status message; with --fail, the error message")
    p.add_argument(
        "--data", type=json_arg, default=MISSING, metavar="JSON", help="error data with --fail"
    )

    p = sub.add_parser("cancel", parents=[common], help="cancel a task")
    p.add_argument("task_id", metavar="ID")
    p.add_argument("--message", default="", help="status message")

    p = sub.add_parser(
        "wait", parents=[common_wait], help="wait until a task reaches a status (default: terminal)"
    )
    p.add_argument("task_id", metavar="ID")
    p.add_argument(
        "--timeout",
        dest="wait_timeout",
        type=duration_arg,
        help="give up after this long (exit 3); default: wait as long as it takes",
    )
    p.add_argument(
        "--status", type=status_arg, action="append", default=[], help="target (repeatable)"
    )

    p = sub.add_parser(
        "watch", parents=[common], help="print one JSON line per new version until terminal"
    )
    p.add_argument("task_id", metavar="ID")
    p.add_argument("--after-version", type=positive_int, default=0, help="skip up to here")

    p = sub.add_parser("delete", parents=[common], help="delete a task")
    p.add_argument("task_id", metavar="ID")
    return parser


# -- output -------------------------------------------------------------------


class _Output:
    def __init__(self, stream: TextIO, compact: bool) -> None:
        self.stream = stream
        self.compact = compact

    def line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def json(self, obj: Any, *, compact: bool | None = None) -> None:
        if self.compact if compact is None else compact:
            self.line(json.dumps(obj, separators=(",", ":"), ensure_ascii=False))
        else:
            self.line(json.dumps(obj, indent=2, ensure_ascii=False))

    def task(self, task: Task) -> None:
        self.json(task.to_dict())

    def table(self, tasks: Sequence[Task]) -> None:
        rows = [("TASK_ID", "STATUS", "VERSION", "UPDATED", "METHOD")]
        rows += [
            (
                t.task_id,
                t.status.value,
                str(t.version),
                t.update_time.strftime("%Y-%m-%d %H:%M:%S"),
                t.request_method,
            )
            for t in tasks
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            self.line(
                "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            )


# -- commands -----------------------------------------------------------------


def _create(client: TaskClient, args: argparse.Namespace, out: _Output) -> int:
    task = client.create(
        request_method=args.method,
        ttl=args.ttl,
        poll_interval=args.poll_interval,
        variables=dict(args.var),
        request_id=args.request_id,
    )
    out.task(task)
    return EXIT_OK


def _get(client: TaskClient, args: argparse.Namespace, out: _Output) -> int:
    out.task(client.get(args.task_id))
    return EXIT_OK


def _list(client: TaskClient, args: argparse.Namespace, out: _Output) -> int:
    statuses = args.status or None
    if args.all:
        tasks = list(client.iter_tasks(statuses=statuses, page_size=args.page_size))
        token = ""
    else:
        page = client.list(page_size=args.page_size, page_token=args.page_token, statuses=statuses)
        tasks, token = page.tasks, page.next_page_token
    if out.compact:
        out.json({"tasks": [t.to_dict() for t in tasks], "next_page_token": token})
        return EXIT_OK
    out.table(tasks)
    if token:
        print(f"more: --page-token {token}", file=sys.stderr)
    return EXIT_OK


def _set_var(client: TaskClient, args: argparse.Namespace, out: _Output) -> int:
    out.task(client.set_variables(args.task_id, dict(args.vars)))
    return EXIT_OK


def _complete(client: TaskClient, args: argparse.Namespace, out: _Output) -> int:
    if args.fail:
        task = client.fail(
            args.task_id,
            args.message or "failed",
            code=DEFAULT_FAIL_CODE if args.code is None else args.code,
            data=args.data,
        )
    else:
        task = client.complete(args.task_id, args.result, message=args.message or "")
    out.task(task)
    return EXIT_OK


def _cancel(client: TaskClient, args: argparse.Namespace, out: _Output) -> int:
    out.task(client.cancel(args.task_id, args.message))
    return EXIT_OK


def _wait(client: TaskClient, args: argparse.Namespace, out: _Output) -> int:
    targets: list[TaskStatus] = args.status
    task = client.wait(args.task_id, args.wait_timeout, statuses=targets or None)
    out.task(task)
    reached = task.status in targets if targets else task.terminal
    return EXIT_OK if reached else EXIT_WAIT_TIMEOUT


def _watch(client: TaskClient, args: argparse.Namespace, out: _Output) -> int:
    for task in client.watch(args.task_id, args.after_version):
        out.json(task.to_dict(), compact=True)
    return EXIT_OK


def _delete(client: TaskClient, args: argparse.Namespace, out: _Output) -> int:
    client.delete(args.task_id)
    return EXIT_OK


_COMMANDS: dict[str, Callable[[TaskClient, argparse.Namespace, _Output], int]] = {
    "create": _create,
    "get": _get,
    "list": _list,
    "set-var": _set_var,
    "complete": _complete,
    "cancel": _cancel,
    "wait": _wait,
    "watch": _watch,
    "delete": _delete,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help and on usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if (
        args.command == "complete"
        and not args.fail
        and (args.code is not None or args.data is not MISSING)
    ):
        parser.print_usage(sys.stderr)
        print("taskstate complete: error: --code and --data need --fail", file=sys.stderr)
        return EXIT_USAGE
    out = _Output(sys.stdout, compact=args.json)
    try:
        with TaskClient(args.address, token=args.token, timeout=args.timeout) as client:
            return _COMMANDS[args.command](client, args, out)
    except TaskStateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        for violation in exc.field_violations:
            line = f"{violation.field}: {violation.description}"
            if line != exc.message:  # the server often says the same thing twice
                print(f"  {line}", file=sys.stderr)
        return EXIT_ERROR
    except (ValueError, TypeError, OSError) as exc:  # bad input caught client-side
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
