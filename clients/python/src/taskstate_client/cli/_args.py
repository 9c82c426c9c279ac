"""Argument types. argparse turns their ArgumentTypeError into a usage error (exit 2)."""

from __future__ import annotations

import argparse
import json
from datetime import timedelta
from pathlib import Path
from typing import TextIO

from taskstate_client._convert import coerce_status, coerce_view
from taskstate_client._duration import parse_duration
from taskstate_client._json import JSON
from taskstate_client.models import TaskStatus, TaskView

STDIN = "-"
FILE_PREFIX = "@"
JSON_HELP = "JSON, @FILE or - (stdin)"


def duration_arg(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def clearable_duration_arg(text: str) -> timedelta | None:
    """A duration, or `none` to clear the field (put --ttl none: never expires)."""
    if text.strip().lower() == "none":
        return None
    return duration_arg(text)


def status_arg(text: str) -> TaskStatus:
    try:
        return coerce_status(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def view_arg(text: str) -> TaskView:
    try:
        return coerce_view(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def positive_int(text: str) -> int:
    """A non-negative integer (page sizes, versions); argparse's int gives a vaguer error."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {value}")
    return value


class JsonInputs:
    """JSON arguments given inline, as @FILE, or as - (standard input).

    Any JSON argument may come from a file or a pipe, so a tool's multi-megabyte
    result never has to fit on a command line or survive shell quoting. Only
    one argument per command can read stdin; a second `-` is a usage error.
    JSON text never starts with @ or is a lone -, so nothing inline is shadowed.
    """

    def __init__(self, stdin: TextIO) -> None:
        self._stdin = stdin
        self._stdin_used = False

    def json_arg(self, text: str) -> JSON:
        return self._load(text, hint="'\"text\"'")

    def var_arg(self, text: str) -> tuple[str, JSON]:
        """NAME=JSON; JSON is strict so that `n=1` and `n="1"` stay different things."""
        name, sep, raw = text.partition("=")
        if not sep or not name:
            raise argparse.ArgumentTypeError(f"expected NAME=JSON, got {text!r}")
        return name, self._load(raw, hint=f"{name}='\"text\"'", what=f"{name!r}")

    def _load(self, text: str, *, hint: str, what: str = "") -> JSON:
        label = f" for {what}" if what else ""
        if text == STDIN:
            source, body = "stdin", self._read_stdin()
        elif text.startswith(FILE_PREFIX):
            source, body = text, _read_file(text.removeprefix(FILE_PREFIX))
        else:
            source, body = "", text
        try:
            return json.loads(body)
        except json.JSONDecodeError as exc:
            if source:
                where = f"line {exc.lineno} column {exc.colno}"
                msg = f"invalid JSON{label} in {source} at {where} ({exc.msg})"
            else:
                msg = f"invalid JSON{label}: {text!r} ({exc.msg}); quote strings, e.g. {hint}"
            raise argparse.ArgumentTypeError(msg) from None
        except (ValueError, RecursionError) as exc:  # > 4300 digits; nesting beyond the stack
            detail = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            raise argparse.ArgumentTypeError(
                f"unusable JSON{label} in {source or 'argument'}: {detail}"
            ) from None

    def _read_stdin(self) -> str:
        if self._stdin_used:
            raise argparse.ArgumentTypeError("only one argument can be read from stdin (-)")
        self._stdin_used = True
        return self._stdin.read()


def _read_file(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot read @{path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise argparse.ArgumentTypeError(f"@{path} is not UTF-8 text") from None
