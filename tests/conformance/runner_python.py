"""Conformance runner for the Python client (``taskstate_client``); see README.md in this folder.

Usage (the harness sets the environment; see README section 1)::

    TASKSTATE_ADDRESS=... TASKSTATE_QUOTA_ADDRESS=... TASKSTATE_TOKEN_ALICE=... \\
    TASKSTATE_TOKEN_BOB=... TASKSTATE_VECTORS_DIR=tests/conformance/vectors \\
        python tests/conformance/runner_python.py [FILE_OR_NAME ...]

With arguments, only the named scenarios run (a debugging aid; the harness passes none).
The module is also imported by ``test_conformance.py`` for :func:`validate_scenario`.
"""

from __future__ import annotations

import itertools
import json
import os
import queue
import re
import secrets
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

STEP_TIMEOUT = 10.0  # await / watch_all_collect (README section 1)
CALL_TIMEOUT = 30.0  # every unary call
UNKNOWN_TOKEN = "conformance-unknown-token"
MAX_PAGES = 1000

OWNERS = ("alice", "bob", "nobody", "anonymous")
SERVERS = ("main", "quota")
STATUSES = ("working", "input_required", "completed", "failed", "cancelled")
STEP_KEYS = {"op", "as", "args", "expect", "save", "async", "comment"}
SCENARIO_KEYS = {"name", "description", "server", "steps"}
TASK_FIELDS = ("status", "status_message", "variables", "result", "error", "ttl", "poll_interval")

# op -> (required args, optional args)
OPS: dict[str, tuple[set[str], set[str]]] = {
    "create": (set(), {"ttl", "poll_interval", "request_method", "variables", "request_id"}),
    "get": ({"task_id"}, set()),
    "list": (set(), {"page_size", "page_token", "statuses"}),
    "list_all": (set(), {"page_size", "statuses"}),
    "update_status": ({"task_id", "status"}, {"message", "expected_version"}),
    "set_variables": ({"task_id", "variables"}, {"expected_version"}),
    "put_if_version": ({"task_id", "expected_version", "task"}, {"update_mask"}),
    "complete": (
        {"task_id"},
        {"status", "message", "result", "error", "variables", "expected_version"},
    ),
    "cancel": ({"task_id"}, {"message"}),
    "delete": ({"task_id"}, set()),
    "wait": ({"task_id", "timeout"}, {"statuses"}),
    "update": ({"task_id", "fn"}, {"parallel"}),
    "watch": ({"task_id"}, {"after_version"}),
    "watch_all_start": ({"handle"}, {"statuses"}),
    "watch_all_collect": ({"handle", "task_ids", "until"}, set()),
    "await": ({"handle"}, set()),
}
NO_ASYNC = {"await", "watch_all_start", "watch_all_collect"}
MATCHERS = {
    "$exists",
    "$eq",
    "$ne",
    "$gt",
    "$gte",
    "$lt",
    "$lte",
    "$len",
    "$contains",
    "$not_contains",
    "$subsequence",
    "$increasing",
    "$unique",
    "$each",
    "$regex",
}

_DURATION_RE = re.compile(r"^(\d+)(ms|s|m|h)$")
_WHOLE_REF = re.compile(r"^\$\{([^}]+)\}$")
_REF = re.compile(r"\$\{([^}]+)\}")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_ABSENT = object()


class ScenarioError(Exception):
    """A scenario failed (a mismatch, a malformed vector, a timeout)."""


# ---------------------------------------------------------------------------------------------
# Static validation (also used by test_conformance.py on every vector file)
# ---------------------------------------------------------------------------------------------


def validate_scenario(doc: Any, file_stem: str | None = None) -> list[str]:
    """Problems with the shape of a scenario document ([] when it is well formed)."""
    problems: list[str] = []
    if not isinstance(doc, dict):
        return ["scenario is not a JSON object"]
    unknown = set(doc) - SCENARIO_KEYS
    if unknown:
        problems.append(f"unknown scenario keys {sorted(unknown)}")
    if not isinstance(doc.get("name"), str) or not doc.get("name"):
        problems.append("missing name")
    elif file_stem is not None and doc["name"] != file_stem:
        problems.append(f"name {doc['name']!r} differs from the file name {file_stem!r}")
    if not isinstance(doc.get("description"), str):
        problems.append("missing description")
    if doc.get("server", "main") not in SERVERS:
        problems.append(f"server must be one of {SERVERS}")
    steps = doc.get("steps")
    if not isinstance(steps, list) or not steps:
        return [*problems, "steps must be a non-empty list"]
    handles: set[str] = set()
    for i, step in enumerate(steps):
        problems.extend(f"step {i}: {p}" for p in _validate_step(step, handles))
    return problems


def _validate_step(step: Any, handles: set[str]) -> list[str]:
    if not isinstance(step, dict):
        return ["not an object"]
    problems = []
    unknown = set(step) - STEP_KEYS
    if unknown:
        problems.append(f"unknown step keys {sorted(unknown)}")
    op = step.get("op")
    if op not in OPS:
        return [*problems, f"unknown op {op!r}"]
    if step.get("as", "alice") not in OWNERS:
        problems.append(f"as must be one of {OWNERS}")
    args = step.get("args", {})
    if not isinstance(args, dict):
        return [*problems, "args must be an object"]
    required, optional = OPS[op]
    if missing := required - set(args):
        problems.append(f"{op}: missing args {sorted(missing)}")
    if extra := set(args) - required - optional:
        problems.append(f"{op}: unknown args {sorted(extra)}")
    if "async" in step:
        if op in NO_ASYNC:
            problems.append(f"{op} cannot be async")
        if "expect" in step or "save" in step:
            problems.append("an async step takes no expect/save (put them on the await step)")
        handles.add(str(step["async"]))
    if op == "watch_all_start":
        handles.add(str(args.get("handle")))
    if op in ("await", "watch_all_collect") and args.get("handle") not in handles:
        problems.append(f"handle {args.get('handle')!r} was never started")
    task = args.get("task") if op == "put_if_version" else None
    if isinstance(task, dict) and (extra := set(task) - set(TASK_FIELDS)):
        problems.append(f"put_if_version: unknown task fields {sorted(extra)}")
    if op == "update" and isinstance(args.get("fn"), dict):
        fn = args["fn"]
        if set(fn) not in ({"increment"}, {"increment", "by"}, {"merge"}):
            problems.append(f"update: bad fn {fn!r}")
    expect = step.get("expect")
    if expect is not None:
        kinds = list(expect) if isinstance(expect, dict) else []
        if kinds not in (["ok"], ["error"]):
            problems.append('expect must be {"ok": {...}} or {"error": {...}}')
        elif "ok" in expect:
            if not isinstance(expect["ok"], dict):
                problems.append("expect.ok must be an object of path -> matcher")
            else:
                for path, m in expect["ok"].items():
                    problems.extend(f"expect.ok[{path!r}]: {p}" for p in _validate_matcher(m))
        else:
            err = expect["error"]
            if not isinstance(err, dict) or not isinstance(err.get("code"), str):
                problems.append("expect.error needs a code")
            elif extra := set(err) - {"code", "reason", "message", "metadata"}:
                problems.append(f"expect.error: unknown keys {sorted(extra)}")
    save = step.get("save")
    if save is not None and not (
        isinstance(save, dict) and all(isinstance(v, str) for v in save.values())
    ):
        problems.append("save must be an object of name -> path")
    return problems


def _is_matcher(m: Any) -> bool:
    return isinstance(m, dict) and bool(m) and all(k.startswith("$") for k in m)


def _validate_matcher(m: Any) -> list[str]:
    if not _is_matcher(m):
        return []
    problems = [f"unknown matcher {k}" for k in m if k not in MATCHERS]
    if "$each" in m:
        problems.extend(_validate_matcher(m["$each"]))
    return problems


# ---------------------------------------------------------------------------------------------
# Values: durations, substitution, task and error views
# ---------------------------------------------------------------------------------------------


def parse_duration(text: Any) -> timedelta:
    m = _DURATION_RE.match(text) if isinstance(text, str) else None
    if not m:
        raise ScenarioError(f"bad duration {text!r} (use e.g. 500ms, 90s, 5m, 1h)")
    n, unit = int(m.group(1)), m.group(2)
    return {
        "ms": timedelta(milliseconds=n),
        "s": timedelta(seconds=n),
        "m": timedelta(minutes=n),
        "h": timedelta(hours=n),
    }[unit]


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return json.dumps(value)


def substitute(value: Any, saved: dict[str, Any], *, generators: bool) -> Any:
    """Replaces ${name} references (and, in args, {"$repeat": [s, n]} generators)."""
    if isinstance(value, str):
        whole = _WHOLE_REF.match(value)
        if whole:
            return _lookup(saved, whole.group(1))
        return _REF.sub(lambda m: _text(_lookup(saved, m.group(1))), value)
    if isinstance(value, list):
        return [substitute(v, saved, generators=generators) for v in value]
    if isinstance(value, dict):
        if generators and set(value) == {"$repeat"}:
            spec = value["$repeat"]
            if not (
                isinstance(spec, list)
                and len(spec) == 2
                and isinstance(spec[0], str)
                and isinstance(spec[1], int)
            ):
                raise ScenarioError(f"bad $repeat {spec!r}")
            return spec[0] * spec[1]
        return {k: substitute(v, saved, generators=generators) for k, v in value.items()}
    return value


def _lookup(saved: dict[str, Any], name: str) -> Any:
    if name not in saved:
        raise ScenarioError(f"unknown reference ${{{name}}}")
    return saved[name]


def _ms(when: datetime) -> int:
    return (when - _EPOCH) // _MS


def task_view(task: Any) -> dict[str, Any]:
    """The canonical JSON view of a ``taskstate_client.Task`` (README section 3)."""
    view: dict[str, Any] = {
        "task_id": task.task_id,
        "status": str(task.status.value),
        "status_message": task.status_message,
        "request_method": task.request_method,
        "version": task.version,
        "variables": task.variables,
        "create_time_ms": _ms(task.create_time),
        "update_time_ms": _ms(task.update_time),
    }
    if task.has_result:
        view["result"] = task.result
    if task.error is not None:
        err: dict[str, Any] = {"code": task.error.code, "message": task.error.message}
        if task.error.data is not None:
            err["data"] = task.error.data
        view["error"] = err
    if task.ttl is not None:
        view["ttl_ms"] = task.ttl // _MS
    if task.poll_interval is not None:
        view["poll_interval_ms"] = task.poll_interval // _MS
    if task.expire_time is not None:
        view["expire_time_ms"] = _ms(task.expire_time)
    return view


def pb_task_view(msg: Any) -> dict[str, Any]:
    """The same view of a raw ``taskstate.v1.Task`` (for the generated-stub fallback)."""
    from google.protobuf import json_format
    from taskstate.v1 import taskstate_pb2 as pb

    def value(v: Any) -> Any:
        return json_format.MessageToDict(v)

    def ts_ms(ts: Any) -> int:
        return int(ts.seconds) * 1000 + int(ts.nanos) // 1_000_000

    view: dict[str, Any] = {
        "task_id": msg.task_id,
        "status": pb.TaskStatus.Name(msg.status).removeprefix("TASK_STATUS_").lower(),
        "status_message": msg.status_message,
        "request_method": msg.request_method,
        "version": msg.version,
        "variables": {k: value(v) for k, v in msg.variables.items()},
        "create_time_ms": ts_ms(msg.create_time),
        "update_time_ms": ts_ms(msg.update_time),
    }
    if msg.HasField("result"):
        view["result"] = value(msg.result)
    if msg.HasField("error"):
        err: dict[str, Any] = {"code": msg.error.code, "message": msg.error.message}
        if msg.error.HasField("data"):
            err["data"] = value(msg.error.data)
        view["error"] = err
    if msg.HasField("ttl"):
        view["ttl_ms"] = ts_ms(msg.ttl)
    if msg.HasField("poll_interval"):
        view["poll_interval_ms"] = ts_ms(msg.poll_interval)
    if msg.HasField("expire_time"):
        view["expire_time_ms"] = ts_ms(msg.expire_time)
    return view


@dataclass
class Outcome:
    ok: bool
    value: Any  # the result (ok) or the error view (not ok)


def error_view(exc: BaseException) -> dict[str, Any]:
    """The error view of a ``taskstate_client.TaskStateError``."""
    code = getattr(exc, "code", None)
    return {
        "code": getattr(code, "name", str(code)),
        "reason": getattr(exc, "reason", None) or None,
        "message": getattr(exc, "message", str(exc)),
        "metadata": dict(getattr(exc, "metadata", {}) or {}),
    }


def rpc_error_view(exc: Any) -> dict[str, Any]:
    """The error view of a raw ``grpc.RpcError`` (generated-stub fallback)."""
    from google.rpc import error_details_pb2, status_pb2

    view: dict[str, Any] = {
        "code": exc.code().name,
        "reason": None,
        "message": exc.details() or "",
        "metadata": {},
    }
    for key, raw in exc.trailing_metadata() or ():
        if key != "grpc-status-details-bin":
            continue
        status = status_pb2.Status.FromString(raw)
        view["message"] = status.message or view["message"]
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                view["reason"] = info.reason or None
                view["metadata"] = dict(info.metadata)
    return view


# ---------------------------------------------------------------------------------------------
# Matching
# ---------------------------------------------------------------------------------------------


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def deep_eq(a: Any, b: Any) -> bool:
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(deep_eq(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(deep_eq(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is not type(b):
        return False
    return bool(a == b)


def resolve_path(value: Any, path: str) -> Any:
    if path == "":
        return value
    for seg in path.split("."):
        if isinstance(value, dict):
            value = value.get(seg, _ABSENT)
        elif isinstance(value, list) and re.fullmatch(r"-?\d+", seg):
            idx = int(seg)
            if not -len(value) <= idx < len(value):
                return _ABSENT
            value = value[idx]
        else:
            return _ABSENT
        if value is _ABSENT:
            return _ABSENT
    return value


def _show(v: Any) -> str:
    if v is _ABSENT:
        return "<absent>"
    text = json.dumps(v, sort_keys=True, default=str)
    return text if len(text) <= 600 else text[:600] + "..."


def mismatch(actual: Any, matcher: Any) -> str | None:
    """None if ``actual`` satisfies ``matcher``, else why not."""
    if not _is_matcher(matcher):
        if actual is _ABSENT or not deep_eq(actual, matcher):
            return f"got {_show(actual)}, want {_show(matcher)}"
        return None
    for op, arg in matcher.items():
        why = _check(op, arg, actual)
        if why:
            return f"{op}: {why} (got {_show(actual)})"
    return None


def _check(op: str, arg: Any, actual: Any) -> str | None:
    present = actual is not _ABSENT
    if op == "$exists":
        return None if present == bool(arg) else ("absent" if arg else "present")
    if not present:
        return "absent"
    if op == "$eq":
        return None if deep_eq(actual, arg) else f"not equal to {_show(arg)}"
    if op == "$ne":
        return None if not deep_eq(actual, arg) else f"equal to {_show(arg)}"
    if op in ("$gt", "$gte", "$lt", "$lte"):
        if not (_is_number(actual) and _is_number(arg)):
            return f"not numbers (want {_show(arg)})"
        ok = {
            "$gt": actual > arg,
            "$gte": actual >= arg,
            "$lt": actual < arg,
            "$lte": actual <= arg,
        }[op]
        return None if ok else f"want {op} {arg}"
    if op == "$len":
        if not isinstance(actual, list | dict | str):
            return "has no length"
        return None if len(actual) == arg else f"length {len(actual)}, want {arg}"
    if op == "$regex":
        if not isinstance(actual, str):
            return "not a string"
        return None if re.search(arg, actual) else f"does not match {arg!r}"
    if not isinstance(actual, list):
        return "not an array"
    if op == "$contains":
        return None if any(deep_eq(x, arg) for x in actual) else f"lacks {_show(arg)}"
    if op == "$not_contains":
        return None if not any(deep_eq(x, arg) for x in actual) else f"has {_show(arg)}"
    if op == "$subsequence":
        it = iter(actual)
        for want in arg:
            if not any(deep_eq(x, want) for x in it):
                return f"{_show(want)} missing or out of order in {_show(arg)}"
        return None
    if op == "$increasing":
        if not all(_is_number(x) for x in actual):
            return "not all numbers"
        ok = all(a < b for a, b in itertools.pairwise(actual))
        return None if ok == bool(arg) else "not strictly increasing"
    if op == "$unique":
        dupes = [x for i, x in enumerate(actual) if any(deep_eq(x, y) for y in actual[:i])]
        return None if not dupes or not arg else f"duplicates {_show(dupes)}"
    if op == "$each":
        for i, x in enumerate(actual):
            why = mismatch(x, arg)
            if why:
                return f"element {i}: {why}"
        return None
    return f"unknown matcher {op}"


def check_expect(outcome: Outcome, expect: dict[str, Any] | None) -> None:
    if expect is None or "ok" in expect:
        if not outcome.ok:
            raise ScenarioError(f"want success, got error {_show(outcome.value)}")
        for path, matcher in (expect or {}).get("ok", {}).items():
            why = mismatch(resolve_path(outcome.value, path), matcher)
            if why:
                raise ScenarioError(f"{path or '<outcome>'}: {why}")
        return
    want = expect["error"]
    if outcome.ok:
        raise ScenarioError(f"want error {_show(want)}, got success {_show(outcome.value)}")
    got = outcome.value
    if got["code"] != want["code"]:
        raise ScenarioError(f"want code {want['code']}, got error {_show(got)}")
    if "reason" in want and got["reason"] != want["reason"]:
        raise ScenarioError(f"want reason {want['reason']}, got error {_show(got)}")
    if "message" in want and got["message"] != want["message"]:
        raise ScenarioError(f"want message {want['message']!r}, got {got['message']!r}")
    for key, value in (want.get("metadata") or {}).items():
        if got["metadata"].get(key) != _text(value):
            raise ScenarioError(
                f"want metadata {key}={_text(value)!r}, got metadata {_show(got['metadata'])}"
            )


# ---------------------------------------------------------------------------------------------
# Execution
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Env:
    address: str
    quota_address: str
    tokens: dict[str, str]
    vectors_dir: Path

    @classmethod
    def from_environ(cls) -> Env:
        names = (
            "TASKSTATE_ADDRESS",
            "TASKSTATE_QUOTA_ADDRESS",
            "TASKSTATE_TOKEN_ALICE",
            "TASKSTATE_TOKEN_BOB",
            "TASKSTATE_VECTORS_DIR",
        )
        missing = [n for n in names if not os.environ.get(n)]
        if missing:
            raise SystemExit(f"runner_python: missing environment variables {missing}")
        return cls(
            address=os.environ["TASKSTATE_ADDRESS"],
            quota_address=os.environ["TASKSTATE_QUOTA_ADDRESS"],
            tokens={
                "alice": os.environ["TASKSTATE_TOKEN_ALICE"],
                "bob": os.environ["TASKSTATE_TOKEN_BOB"],
                "nobody": UNKNOWN_TOKEN,
                "anonymous": "",  # "" (not None): no authorization header, no env fallback
            },
            vectors_dir=Path(os.environ["TASKSTATE_VECTORS_DIR"]),
        )


class _WatchAll:
    """An open WatchTasks stream whose events a thread moves into a queue."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.events: queue.Queue[Any] = queue.Queue()
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    def _pump(self) -> None:
        try:
            for task in self.stream:
                self.events.put(task)
        except Exception as exc:  # surfaced by collect
            self.events.put(exc)
        self.events.put(None)

    def close(self) -> None:
        self.stream.close()


class _Background:
    """An op started with "async": runs in a thread, its Outcome read by await."""

    def __init__(self, fn: Callable[[], Outcome]) -> None:
        self.outcome: Outcome | None = None
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(fn,), daemon=True)
        self.thread.start()

    def _run(self, fn: Callable[[], Outcome]) -> None:
        try:
            self.outcome = fn()
        except BaseException as exc:
            self.failure = exc


@dataclass
class ScenarioRun:
    env: Env
    server: str
    saved: dict[str, Any] = field(default_factory=dict)
    clients: dict[str, Any] = field(default_factory=dict)
    channels: dict[str, Any] = field(default_factory=dict)
    background: dict[str, _Background] = field(default_factory=dict)
    watches: dict[str, _WatchAll] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return self.env.quota_address if self.server == "quota" else self.env.address

    def client(self, owner: str) -> Any:
        from taskstate_client import TaskClient

        if owner not in self.clients:
            self.clients[owner] = TaskClient(
                self.address, token=self.env.tokens[owner], timeout=CALL_TIMEOUT
            )
        return self.clients[owner]

    def raw_stub(self, owner: str) -> tuple[Any, tuple[tuple[str, str], ...]]:
        import grpc
        from taskstate.v1 import taskstate_pb2_grpc as pb_grpc

        if owner not in self.channels:
            self.channels[owner] = grpc.insecure_channel(self.address)
        token = self.env.tokens[owner]
        metadata = (("authorization", f"Bearer {token}"),) if token else ()
        return pb_grpc.TaskServiceStub(self.channels[owner]), metadata

    def close(self) -> None:
        for watch in self.watches.values():
            watch.close()
        for client in self.clients.values():
            client.close()
        for channel in self.channels.values():
            channel.close()

    # -- steps ---------------------------------------------------------------------------------

    def run_step(self, step: dict[str, Any]) -> None:
        op = step["op"]
        owner = step.get("as", "alice")
        args = substitute(step.get("args", {}), self.saved, generators=True)
        if "async" in step:
            handle = step["async"]
            if handle in self.background:
                raise ScenarioError(f"handle {handle!r} already used")
            self.background[handle] = _Background(lambda: self.call(op, owner, args))
            return
        outcome = self.call(op, owner, args)
        expect = substitute(step.get("expect"), self.saved, generators=False)
        check_expect(outcome, expect)
        for name, path in (step.get("save") or {}).items():
            value = resolve_path(outcome.value, path)
            if value is _ABSENT:
                raise ScenarioError(f"save {name}: path {path!r} is absent in {_show(outcome)}")
            self.saved[name] = value

    def call(self, op: str, owner: str, args: dict[str, Any]) -> Outcome:
        from taskstate_client import TaskStateError

        try:
            return Outcome(True, getattr(self, f"op_{op}")(owner, args))
        except _Replay as replay:  # raw-stub calls and awaited async errors
            return Outcome(False, replay.view)
        except TaskStateError as exc:
            return Outcome(False, error_view(exc))

    # -- ops (each returns the outcome value, or raises TaskStateError) -------------------------

    def op_create(self, owner: str, a: dict[str, Any]) -> Any:
        kwargs: dict[str, Any] = {}
        for key in ("ttl", "poll_interval"):
            if key in a:
                kwargs[key] = parse_duration(a[key])
        for key in ("request_method", "variables", "request_id"):
            if key in a:
                kwargs[key] = a[key]
        return task_view(self.client(owner).create(**kwargs))

    def op_get(self, owner: str, a: dict[str, Any]) -> Any:
        return task_view(self.client(owner).get(a["task_id"]))

    def op_list(self, owner: str, a: dict[str, Any]) -> Any:
        page = self.client(owner).list(
            page_size=a.get("page_size", 0),
            page_token=a.get("page_token", ""),
            statuses=a.get("statuses", []),
        )
        tasks = [task_view(t) for t in page.tasks]
        return {
            "tasks": tasks,
            "task_ids": [t["task_id"] for t in tasks],
            "next_page_token": page.next_page_token,
        }

    def op_list_all(self, owner: str, a: dict[str, Any]) -> Any:
        out: dict[str, list[Any]] = {"task_ids": [], "statuses": [], "page_lens": []}
        token = ""
        for _ in range(MAX_PAGES):
            page = self.client(owner).list(
                page_size=a.get("page_size", 0),
                page_token=token,
                statuses=a.get("statuses", []),
            )
            out["task_ids"] += [t.task_id for t in page.tasks]
            out["statuses"] += [str(t.status.value) for t in page.tasks]
            out["page_lens"].append(len(page.tasks))
            token = page.next_page_token
            if not token:
                return out
        raise ScenarioError(f"list_all: still a next_page_token after {MAX_PAGES} pages")

    def op_update_status(self, owner: str, a: dict[str, Any]) -> Any:
        return task_view(
            self.client(owner).update_status(
                a["task_id"],
                a["status"],
                a.get("message", ""),
                expected_version=a.get("expected_version"),
            )
        )

    def op_set_variables(self, owner: str, a: dict[str, Any]) -> Any:
        return task_view(
            self.client(owner).set_variables(
                a["task_id"], a["variables"], expected_version=a.get("expected_version")
            )
        )

    def op_put_if_version(self, owner: str, a: dict[str, Any]) -> Any:
        if "update_mask" in a:
            return self._raw_put_if_version(owner, a)
        from taskstate_client import TaskError

        fields = dict(a["task"])
        if "error" in fields:
            fields["error"] = _task_error(fields["error"], TaskError)
        for key in ("ttl", "poll_interval"):
            if key in fields:
                fields[key] = parse_duration(fields[key])
        return task_view(
            self.client(owner).put_if_version(a["task_id"], a["expected_version"], **fields)
        )

    def op_complete(self, owner: str, a: dict[str, Any]) -> Any:
        status = a.get("status", "completed")
        kwargs: dict[str, Any] = {"expected_version": a.get("expected_version")}
        if "variables" in a:
            kwargs["variables"] = a["variables"]
        if "result" in a:
            kwargs["result"] = a["result"]
        client = self.client(owner)
        if status == "completed" and "error" not in a:
            return task_view(client.complete(a["task_id"], message=a.get("message", ""), **kwargs))
        if status == "failed" and "error" in a:
            err = a["error"]
            if "data" in err:
                kwargs["data"] = err["data"]
            return task_view(
                client.fail(
                    a["task_id"],
                    err.get("message", ""),
                    code=err.get("code", 0),
                    status_message=a.get("message", ""),
                    **kwargs,
                )
            )
        return self._raw_complete(owner, a)

    def op_cancel(self, owner: str, a: dict[str, Any]) -> Any:
        return task_view(self.client(owner).cancel(a["task_id"], a.get("message", "")))

    def op_delete(self, owner: str, a: dict[str, Any]) -> Any:
        self.client(owner).delete(a["task_id"])
        return {}

    def op_wait(self, owner: str, a: dict[str, Any]) -> Any:
        return task_view(
            self.client(owner).wait(
                a["task_id"], parse_duration(a["timeout"]), statuses=a.get("statuses") or None
            )
        )

    def op_update(self, owner: str, a: dict[str, Any]) -> Any:
        fn = _update_fn(a["fn"])
        client = self.client(owner)
        n = int(a.get("parallel", 1))
        if n == 1:
            return task_view(client.update(a["task_id"], fn))
        with ThreadPoolExecutor(max_workers=n) as pool:
            futures = [pool.submit(client.update, a["task_id"], fn) for _ in range(n)]
            tasks = [f.result() for f in futures]  # the first error propagates
        return task_view(max(tasks, key=lambda t: t.version))

    def op_watch(self, owner: str, a: dict[str, Any]) -> Any:
        from taskstate_client import TaskStateError

        tasks: list[dict[str, Any]] = []
        out: dict[str, Any] = {"end": "OK"}
        try:
            for task in self.client(owner).watch(a["task_id"], a.get("after_version", 0)):
                tasks.append(task_view(task))
        except TaskStateError as exc:
            err = error_view(exc)
            out["end"] = err["code"]
            if err["reason"]:
                out["end_reason"] = err["reason"]
        out["versions"] = [t["version"] for t in tasks]
        out["statuses"] = [t["status"] for t in tasks]
        out["tasks"] = tasks
        return out

    def op_watch_all_start(self, owner: str, a: dict[str, Any]) -> Any:
        handle = a["handle"]
        if handle in self.watches:
            raise ScenarioError(f"handle {handle!r} already used")
        stream = self.client(owner).watch_all(statuses=a.get("statuses") or None)
        # The contract: return only once the server has sent the response headers (it sends
        # them after registering the watcher). taskstate_client's TaskStream offers no public
        # way to wait for that, so reach into the grpc call; see the report on the client.
        wait_ready = getattr(stream, "wait_ready", None)
        if callable(wait_ready):
            wait_ready()
        else:
            stream._call.initial_metadata()
        self.watches[handle] = _WatchAll(stream)
        return {}

    def op_watch_all_collect(self, owner: str, a: dict[str, Any]) -> Any:
        watch = self.watches.get(a["handle"])
        if watch is None:
            raise ScenarioError(f"no watch_all stream {a['handle']!r}")
        wanted = set(a["task_ids"])
        until = a["until"]
        events: list[dict[str, Any]] = []
        deadline = threading.Event()
        timer = threading.Timer(STEP_TIMEOUT, deadline.set)
        timer.start()
        try:
            while True:
                if deadline.is_set():
                    raise ScenarioError(f"timeout: no event matching {until} in {events}")
                try:
                    item = watch.events.get(timeout=0.05)
                except queue.Empty:
                    continue
                if item is None:
                    raise ScenarioError(f"stream ended before an event matching {until}")
                if isinstance(item, Exception):
                    raise item
                event = {"task_id": item.task_id, "version": item.version}
                event["status"] = str(item.status.value)
                if event["task_id"] not in wanted:
                    continue
                events.append(event)
                if all(deep_eq(event.get(k, _ABSENT), v) for k, v in until.items()):
                    break
        finally:
            timer.cancel()
            watch.close()
        return {"events": events}

    def op_await(self, owner: str, a: dict[str, Any]) -> Any:
        bg = self.background.get(a["handle"])
        if bg is None:
            raise ScenarioError(f"no async op {a['handle']!r}")
        bg.thread.join(STEP_TIMEOUT)
        if bg.thread.is_alive():
            raise ScenarioError(f"timeout: async op {a['handle']!r} still running")
        if bg.failure is not None:
            raise bg.failure
        assert bg.outcome is not None
        if not bg.outcome.ok:
            raise _Replay(bg.outcome.value)
        return bg.outcome.value

    # -- generated-stub fallback (README section 4) ---------------------------------------------

    def _raw(self, owner: str, method: str, request: Any) -> Any:
        import grpc

        stub, metadata = self.raw_stub(owner)
        try:
            return getattr(stub, method)(request, timeout=CALL_TIMEOUT, metadata=metadata)
        except grpc.RpcError as exc:
            raise _Replay(rpc_error_view(exc)) from exc

    def _raw_put_if_version(self, owner: str, a: dict[str, Any]) -> Any:
        from google.protobuf import field_mask_pb2
        from taskstate.v1 import taskstate_pb2 as pb

        req = pb.PutIfVersionRequest(
            task_id=a["task_id"],
            expected_version=a["expected_version"],
            task=_pb_task(a["task"]),
            update_mask=field_mask_pb2.FieldMask(paths=list(a["update_mask"])),
        )
        return pb_task_view(self._raw(owner, "PutIfVersion", req).task)

    def _raw_complete(self, owner: str, a: dict[str, Any]) -> Any:
        from google.protobuf import json_format
        from taskstate.v1 import taskstate_pb2 as pb

        req = pb.CompleteTaskRequest(
            task_id=a["task_id"],
            status=_pb_status(a.get("status", "completed")),
            status_message=a.get("message", ""),
        )
        if "result" in a:
            json_format.ParseDict(a["result"], req.result)
        if "error" in a:
            req.error.CopyFrom(_pb_error(a["error"]))
        for key, value in (a.get("variables") or {}).items():
            json_format.ParseDict(value, req.variables[key])
        if "expected_version" in a:
            req.expected_version = a["expected_version"]
        return pb_task_view(self._raw(owner, "CompleteTask", req).task)


class _Replay(Exception):
    """Carries an error view through call() (raw calls, awaited async errors)."""

    def __init__(self, view: dict[str, Any]) -> None:
        super().__init__(view.get("message", ""))
        self.view = view


def _task_error(spec: dict[str, Any], cls: Any) -> Any:
    return cls(code=spec.get("code", 0), message=spec.get("message", ""), data=spec.get("data"))


def _pb_status(name: str) -> int:
    from taskstate.v1 import taskstate_pb2 as pb

    if name not in STATUSES:
        raise ScenarioError(f"unknown status {name!r}")
    return int(pb.TaskStatus.Value(f"TASK_STATUS_{name.upper()}"))


def _pb_error(spec: dict[str, Any]) -> Any:
    from google.protobuf import json_format
    from taskstate.v1 import taskstate_pb2 as pb

    err = pb.TaskError(code=spec.get("code", 0), message=spec.get("message", ""))
    if "data" in spec:
        json_format.ParseDict(spec["data"], err.data)
    return err


def _pb_task(spec: dict[str, Any]) -> Any:
    from google.protobuf import json_format
    from taskstate.v1 import taskstate_pb2 as pb

    task = pb.Task()
    if "status" in spec:
        task.status = _pb_status(spec["status"])  # type: ignore[assignment]
    if "status_message" in spec:
        task.status_message = spec["status_message"]
    for key, value in (spec.get("variables") or {}).items():
        json_format.ParseDict(value, task.variables[key])
    if "result" in spec:
        json_format.ParseDict(spec["result"], task.result)
    if "error" in spec:
        task.error.CopyFrom(_pb_error(spec["error"]))
    if "ttl" in spec:
        task.ttl.FromTimedelta(parse_duration(spec["ttl"]))
    if "poll_interval" in spec:
        task.poll_interval.FromTimedelta(parse_duration(spec["poll_interval"]))
    return task


def _update_fn(spec: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    if "increment" in spec:
        key, by = spec["increment"], spec.get("by", 1)

        def increment(variables: dict[str, Any]) -> None:
            variables[key] = variables.get(key, 0) + by

        return increment

    def merge(variables: dict[str, Any]) -> None:
        for key, value in spec["merge"].items():
            if value is None:
                variables.pop(key, None)
            else:
                variables[key] = value

    return merge


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


def run_scenario(env: Env, doc: dict[str, Any]) -> None:
    """Runs one scenario; raises ScenarioError (or anything else) on failure."""
    run = ScenarioRun(env, doc.get("server", "main"))
    run.saved["$unique"] = secrets.token_hex(8)
    try:
        for i, step in enumerate(doc["steps"]):
            try:
                run.run_step(step)
            except ScenarioError as exc:
                raise ScenarioError(f"step {i} ({step.get('op')}): {exc}") from exc
            except Exception as exc:
                raise ScenarioError(f"step {i} ({step.get('op')}): {exc!r}") from exc
    finally:
        run.close()


def scenario_files(vectors_dir: Path, selected: list[str]) -> Iterator[Path]:
    for path in sorted(vectors_dir.glob("*.json")):
        if not selected or path.name in selected or path.stem in selected:
            yield path


def main(argv: list[str]) -> int:
    env = Env.from_environ()
    passed = failed = 0
    for path in scenario_files(env.vectors_dir, argv):
        name = path.stem
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            name = doc.get("name", name) if isinstance(doc, dict) else name
            problems = validate_scenario(doc, path.stem)
            if problems:
                raise ScenarioError("malformed vector: " + "; ".join(problems))
            run_scenario(env, doc)
        except Exception as exc:
            failed += 1
            why = " ".join(str(exc).split())
            print(f"FAIL {name}: {why}", flush=True)
        else:
            passed += 1
            print(f"PASS {name}", flush=True)
    print(f"{passed} passed, {failed} failed", flush=True)
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
