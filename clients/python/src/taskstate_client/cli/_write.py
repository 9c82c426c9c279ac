"""Commands that write: create, set-var, status, put, complete, fail, cancel, delete."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from taskstate_client._requests import DEFAULT_FAIL_CODE
from taskstate_client._sentinel import MISSING
from taskstate_client._sync_client import TaskClient
from taskstate_client.cli._args import (
    JSON_HELP,
    JsonInputs,
    clearable_duration_arg,
    duration_arg,
    positive_int,
    status_arg,
)
from taskstate_client.cli._output import Output
from taskstate_client.cli._usage import EXIT_OK, UsageError
from taskstate_client.models import TaskError

Parents = list[argparse.ArgumentParser]


def register(sub: Any, parents: Parents, inputs: JsonInputs) -> None:
    _add_create(sub, parents, inputs)
    p = sub.add_parser("set-var", parents=parents, help="merge variables (a null value deletes)")
    p.add_argument("task_id", metavar="ID")
    p.add_argument("vars", type=inputs.var_arg, nargs="+", metavar="NAME=JSON")
    _expected_version(p)
    p.set_defaults(run=_set_var)

    p = sub.add_parser(
        "status", parents=parents, help="set a task's status (working <-> input_required)"
    )
    p.add_argument("task_id", metavar="ID")
    p.add_argument(
        "status",
        type=status_arg,
        metavar="STATUS",
        help="working or input_required (a terminal status works too; complete/fail add more)",
    )
    p.add_argument("--message", default="", help="status message (default: cleared)")
    _expected_version(p)
    p.set_defaults(run=_status)

    _add_put(sub, parents, inputs)
    _add_finish(sub, parents, inputs)

    p = sub.add_parser("cancel", parents=parents, help="cancel a task")
    p.add_argument("task_id", metavar="ID")
    p.add_argument("--message", default="", help="status message")
    p.set_defaults(run=_cancel)

    p = sub.add_parser("delete", parents=parents, help="delete a task")
    p.add_argument("task_id", metavar="ID")
    p.set_defaults(run=_delete)


def _expected_version(p: argparse.ArgumentParser, *, required: bool = False) -> None:
    p.add_argument(
        "--expected-version",
        type=positive_int,
        required=required,
        metavar="N",
        help="write only if the task is still at version N (else exit 1, ABORTED)",
    )


def _json_option(p: argparse.ArgumentParser, inputs: JsonInputs, flag: str, what: str) -> None:
    """An optional JSON value: MISSING when absent, so an explicit null still means null."""
    p.add_argument(
        flag, type=inputs.json_arg, default=MISSING, metavar="JSON", help=f"{what}: {JSON_HELP}"
    )


def _vars(p: argparse.ArgumentParser, inputs: JsonInputs, help_text: str) -> None:
    p.add_argument(
        "--var",
        type=inputs.var_arg,
        action="append",
        default=[],
        metavar="NAME=JSON",
        help=f"{help_text} (repeatable; JSON may be @FILE or -)",
    )


def _add_create(sub: Any, parents: Parents, inputs: JsonInputs) -> None:
    p = sub.add_parser("create", parents=parents, help="create a task (prints it)")
    p.add_argument("--ttl", type=duration_arg, help="time to live (default: server's)")
    p.add_argument("--poll-interval", type=duration_arg, help="suggested poll interval")
    p.add_argument("--method", default="", help="request method, e.g. tools/call")
    _vars(p, inputs, "initial variable")
    p.add_argument("--request-id", help="idempotency key: a retry returns the same task")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the task id")
    p.set_defaults(run=_create)


def _add_put(sub: Any, parents: Parents, inputs: JsonInputs) -> None:
    p = sub.add_parser(
        "put",
        parents=parents,
        help="compare-and-swap: write exactly the fields given if the version still matches",
    )
    p.add_argument("task_id", metavar="ID")
    _expected_version(p, required=True)
    p.add_argument("--status", type=status_arg, default=MISSING, help="new status")
    p.add_argument("--message", default=MISSING, help="new status message")
    _json_option(p, inputs, "--variables", "replaces every variable: a JSON object")
    _json_option(p, inputs, "--result", "the result")
    _json_option(p, inputs, "--error", '{"code": N, "message": M, "data": ...}, or null to clear')
    p.add_argument(
        "--ttl", type=clearable_duration_arg, default=MISSING, help="renew from now; none: never"
    )
    p.add_argument(
        "--poll-interval", type=clearable_duration_arg, default=MISSING, help="none clears it"
    )
    p.set_defaults(run=_put)


def _add_finish(sub: Any, parents: Parents, inputs: JsonInputs) -> None:
    p = sub.add_parser("complete", parents=parents, help="complete a task with its result")
    p.add_argument("task_id", metavar="ID")
    _json_option(p, inputs, "--result", "the result")
    p.add_argument("--message", help="status message; with --fail, the error message")
    _vars(p, inputs, "final variable")
    _expected_version(p)
    # --fail and its options: the older spelling of `taskstate fail`.
    p.add_argument("--fail", action="store_true", help="fail the task instead (see `fail`)")
    p.add_argument("--code", type=int, help=f"error code with --fail (default {DEFAULT_FAIL_CODE})")
    _json_option(p, inputs, "--data", "error data with --fail")
    p.set_defaults(run=_complete)

    p = sub.add_parser("fail", parents=parents, help="fail a task with a JSON-RPC shaped error")
    p.add_argument("task_id", metavar="ID")
    p.add_argument("--message", help="error message (default: failed)")
    p.add_argument("--code", type=int, help=f"error code (default {DEFAULT_FAIL_CODE})")
    _json_option(p, inputs, "--data", "error data")
    _json_option(p, inputs, "--result", "a partial result")
    _vars(p, inputs, "final variable")
    _expected_version(p)
    p.set_defaults(run=_fail, fail=True)


def _create(client: TaskClient, args: argparse.Namespace, out: Output) -> int:
    task = client.create(
        request_method=args.method,
        ttl=args.ttl,
        poll_interval=args.poll_interval,
        variables=dict(args.var),
        request_id=args.request_id,
    )
    if args.quiet:
        out.line(task.task_id)
    else:
        out.task(task)
    return EXIT_OK


def _set_var(client: TaskClient, args: argparse.Namespace, out: Output) -> int:
    task = client.set_variables(
        args.task_id, dict(args.vars), expected_version=args.expected_version
    )
    out.task(task)
    return EXIT_OK


def _status(client: TaskClient, args: argparse.Namespace, out: Output) -> int:
    task = client.update_status(
        args.task_id, args.status, args.message, expected_version=args.expected_version
    )
    out.task(task)
    return EXIT_OK


def _put(client: TaskClient, args: argparse.Namespace, out: Output) -> int:
    fields = {
        "status": args.status,
        "status_message": args.message,
        "variables": _object_or_missing(args.variables, "--variables"),
        "result": args.result,
        "error": _task_error(args.error),
        "ttl": args.ttl,
        "poll_interval": args.poll_interval,
    }
    if all(value is MISSING for value in fields.values()):
        raise UsageError(
            "nothing to write: give at least one of --status, --message, --variables, "
            "--result, --error, --ttl, --poll-interval"
        )
    task = client.put_if_version(args.task_id, args.expected_version, **fields)
    out.task(task)
    return EXIT_OK


def _complete(client: TaskClient, args: argparse.Namespace, out: Output) -> int:
    if args.fail:
        if args.result is not MISSING:
            raise UsageError("--result and --fail exclude each other (use `fail --result`)")
        return _fail(client, args, out)
    if args.code is not None or args.data is not MISSING:
        raise UsageError("--code and --data need --fail")
    task = client.complete(
        args.task_id,
        args.result,
        message=args.message or "",
        variables=dict(args.var),
        expected_version=args.expected_version,
    )
    out.task(task)
    return EXIT_OK


def _fail(client: TaskClient, args: argparse.Namespace, out: Output) -> int:
    task = client.fail(
        args.task_id,
        args.message or "failed",
        code=DEFAULT_FAIL_CODE if args.code is None else args.code,
        data=args.data,
        result=args.result,
        variables=dict(args.var),
        expected_version=args.expected_version,
    )
    out.task(task)
    return EXIT_OK


def _cancel(client: TaskClient, args: argparse.Namespace, out: Output) -> int:
    out.task(client.cancel(args.task_id, args.message))
    return EXIT_OK


def _delete(client: TaskClient, args: argparse.Namespace, out: Output) -> int:
    client.delete(args.task_id)
    return EXIT_OK


def _object_or_missing(value: Any, flag: str) -> Any:
    if value is not MISSING and not isinstance(value, Mapping):
        raise UsageError(f"{flag} must be a JSON object, got {type(value).__name__}")
    return value


def _task_error(value: Any) -> Any:
    """--error's JSON: null clears the error; an object needs an integer code and a message."""
    if value is MISSING or value is None:
        return value
    if not isinstance(value, Mapping) or set(value) - {"code", "message", "data"}:
        raise UsageError('--error must be null or {"code": N, "message": "...", "data": ...}')
    code, message = value.get("code", DEFAULT_FAIL_CODE), value.get("message", "")
    if isinstance(code, bool) or not isinstance(code, int) or not isinstance(message, str):
        raise UsageError("--error: code must be an integer and message a string")
    return TaskError(code=code, message=message, data=value.get("data"))
