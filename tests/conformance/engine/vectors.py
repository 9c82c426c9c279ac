"""The vector format: loading, static validation, ``${}`` substitution, ``$repeat``, durations.

Everything here is pure (no I/O besides reading the files), so pytest can check every vector's
shape without a server, and the scenario runner can trust what it is given.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

VECTORS_DIR = Path(__file__).resolve().parents[1] / "vectors"

OWNERS = ("alice", "bob", "nobody", "anonymous")
SERVERS = ("main", "quota")
STATUSES = ("working", "input_required", "completed", "failed", "cancelled")
VIEWS = ("basic", "full")
STEP_KEYS = {"op", "as", "subject", "args", "expect", "save", "async", "comment"}
SCENARIO_KEYS = {"name", "description", "server", "steps"}
TASK_FIELDS = ("status", "status_message", "variables", "result", "error", "ttl", "poll_interval")

# op -> (required args, optional args)
OPS: dict[str, tuple[set[str], set[str]]] = {
    "create": (
        set(),
        {
            "ttl",
            "poll_interval",
            "request_method",
            "variables",
            "request_id",
            "lease_policy",
            "max_attempts",
        },
    ),
    "get": ({"task_id"}, set()),
    "list": (set(), {"page_size", "page_token", "statuses", "view"}),
    "list_all": (set(), {"page_size", "statuses", "view"}),
    "update_status": (
        {"task_id", "status"},
        {"message", "expected_version", "fencing_token", "input_requests"},
    ),
    "set_variables": ({"task_id", "variables"}, {"expected_version", "fencing_token"}),
    "put_if_version": ({"task_id", "expected_version", "task"}, {"update_mask", "fencing_token"}),
    "complete": (
        {"task_id"},
        {"status", "message", "result", "error", "variables", "expected_version", "fencing_token"},
    ),
    "cancel": ({"task_id"}, {"message"}),
    "delete": ({"task_id"}, set()),
    "wait": ({"task_id", "timeout"}, {"statuses"}),
    "update": ({"task_id", "fn"}, {"parallel"}),
    "watch": ({"task_id"}, {"after_version"}),
    "watch_all_start": ({"handle"}, {"statuses", "view", "resume_cursor", "all_events"}),
    "watch_all_collect": ({"handle", "task_ids", "until"}, set()),
    "watch_all_stop": ({"handle"}, set()),
    "claim": ({"worker_id"}, {"task_id", "lease", "request_method", "wait"}),
    "renew_lease": ({"task_id", "fencing_token"}, {"lease", "message"}),
    "worker_run": (
        {"worker_id"},
        {"request_method", "lease", "wait", "variables", "result"},
    ),
    "provide_input": ({"task_id", "input_responses"}, set()),
    "request_cancel": ({"task_id"}, set()),
    "await": ({"handle"}, set()),
}
NO_ASYNC = {"await", "watch_all_start", "watch_all_collect", "watch_all_stop"}
LEASE_POLICIES = ("fail", "release")
EVENT_KINDS = ("deleted", "expired")  # a collected event names its kind unless it is a write
UNTIL_KEYS = {"task_id", "version", "status", "kind"}
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
_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}
_WHOLE_REF = re.compile(r"^\$\{([^}]+)\}$")
_REF = re.compile(r"\$\{([^}]+)\}")


class ScenarioError(Exception):
    """A scenario failed: a mismatch, a malformed vector, a timeout, a driver failure."""


# ---------------------------------------------------------------------------------------------
# Loading and static validation (test_conformance.py runs it on every file)
# ---------------------------------------------------------------------------------------------


def vector_files(vectors_dir: Path = VECTORS_DIR) -> list[Path]:
    """Every scenario file, in the order they run (lexicographic file name)."""
    return sorted(vectors_dir.glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    """The scenario of one file; raises ScenarioError if it is not a well-formed vector."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ScenarioError(f"cannot read {path.name}: {exc}") from exc
    problems = validate_scenario(doc, path.stem)
    if problems:
        raise ScenarioError("malformed vector: " + "; ".join(problems))
    assert isinstance(doc, dict)
    return doc


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
    if "subject" in step and not _is_text(step["subject"]):
        problems.append('subject must be a string or {"$repeat": [s, n]}')
    if "subject" in step and op in ("await", "watch_all_collect", "watch_all_stop"):
        problems.append(f"{op} takes no subject (the op it continues has one)")
    args = step.get("args", {})
    if not isinstance(args, dict):
        return [*problems, "args must be an object"]
    problems += _validate_args(op, args, handles)
    if "async" in step:
        if op in NO_ASYNC:
            problems.append(f"{op} cannot be async")
        if "expect" in step or "save" in step:
            problems.append("an async step takes no expect/save (put them on the await step)")
        handles.add(str(step["async"]))
    problems += _validate_expect(step.get("expect"))
    save = step.get("save")
    if save is not None and not (
        isinstance(save, dict) and all(isinstance(v, str) for v in save.values())
    ):
        problems.append("save must be an object of name -> path")
    return problems


def _is_text(value: Any) -> bool:
    """A string, or a $repeat generator of one (a subject may need to be long)."""
    return isinstance(value, str) or (isinstance(value, dict) and set(value) == {"$repeat"})


def _validate_args(op: str, args: dict[str, Any], handles: set[str]) -> list[str]:
    problems = []
    required, optional = OPS[op]
    if missing := required - set(args):
        problems.append(f"{op}: missing args {sorted(missing)}")
    if extra := set(args) - required - optional:
        problems.append(f"{op}: unknown args {sorted(extra)}")
    if "view" in args and args["view"] not in VIEWS:
        problems.append(f"{op}: view must be one of {VIEWS}")
    if op == "watch_all_start":
        handles.add(str(args.get("handle")))
    if op in ("await", "watch_all_collect", "watch_all_stop") and args.get("handle") not in handles:
        problems.append(f"handle {args.get('handle')!r} was never started")
    if "lease_policy" in args and args["lease_policy"] not in LEASE_POLICIES:
        problems.append(f"{op}: lease_policy must be one of {LEASE_POLICIES}")
    if op == "watch_all_collect" and isinstance(until := args.get("until"), dict):
        if extra := set(until) - UNTIL_KEYS:
            problems.append(f"watch_all_collect: unknown until keys {sorted(extra)}")
        if "kind" in until and until["kind"] not in EVENT_KINDS:
            problems.append(f"watch_all_collect: until.kind must be one of {EVENT_KINDS}")
    task = args.get("task") if op == "put_if_version" else None
    if isinstance(task, dict) and (extra := set(task) - set(TASK_FIELDS)):
        problems.append(f"put_if_version: unknown task fields {sorted(extra)}")
    for key in ("input_requests", "input_responses"):
        if key in args and not isinstance(args[key], dict):
            problems.append(f"{op}: {key} must be an object")
    if op == "update" and isinstance(args.get("fn"), dict):
        fn = args["fn"]
        if set(fn) not in ({"increment"}, {"increment", "by"}, {"merge"}):
            problems.append(f"update: bad fn {fn!r}")
    return problems


def _validate_expect(expect: Any) -> list[str]:
    if expect is None:
        return []
    kinds = list(expect) if isinstance(expect, dict) else []
    if kinds not in (["ok"], ["error"]):
        return ['expect must be {"ok": {...}} or {"error": {...}}']
    if "ok" in expect:
        if not isinstance(expect["ok"], dict):
            return ["expect.ok must be an object of path -> matcher"]
        return [
            f"expect.ok[{path!r}]: {p}"
            for path, m in expect["ok"].items()
            for p in _validate_matcher(m)
        ]
    err = expect["error"]
    if not isinstance(err, dict) or not isinstance(err.get("code"), str):
        return ["expect.error needs a code"]
    if extra := set(err) - {"code", "reason", "message", "metadata"}:
        return [f"expect.error: unknown keys {sorted(extra)}"]
    return [
        f"expect.error.metadata[{key!r}]: {p}"
        for key, m in (err.get("metadata") or {}).items()
        for p in _validate_matcher(m)
    ]


def is_matcher(m: Any) -> bool:
    """True for an object whose keys all start with ``$`` (a matcher, not a plain value)."""
    return isinstance(m, dict) and bool(m) and all(k.startswith("$") for k in m)


def _validate_matcher(m: Any) -> list[str]:
    if not is_matcher(m):
        return []
    problems = [f"unknown matcher {k}" for k in m if k not in MATCHERS]
    if "$each" in m:
        problems.extend(_validate_matcher(m["$each"]))
    return problems


# ---------------------------------------------------------------------------------------------
# Values: durations and substitution
# ---------------------------------------------------------------------------------------------


def parse_duration_ms(text: Any) -> int:
    """``"500ms"``, ``"90s"``, ``"5m"``, ``"1h"`` -> integer milliseconds (the drivers' unit)."""
    m = _DURATION_RE.match(text) if isinstance(text, str) else None
    if not m:
        raise ScenarioError(f"bad duration {text!r} (use e.g. 500ms, 90s, 5m, 1h)")
    return int(m.group(1)) * _UNITS[m.group(2)]


def parse_duration(text: Any) -> timedelta:
    return timedelta(milliseconds=parse_duration_ms(text))


def text_of(value: Any) -> str:
    """A value as text inside a longer string or in error metadata (numbers in decimal)."""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return json.dumps(value)


def substitute(value: Any, saved: dict[str, Any], *, generators: bool) -> Any:
    """Replaces ``${name}`` references (and, in args, ``{"$repeat": [s, n]}`` generators)."""
    if isinstance(value, str):
        whole = _WHOLE_REF.match(value)
        if whole:
            return _lookup(saved, whole.group(1))
        return _REF.sub(lambda m: text_of(_lookup(saved, m.group(1))), value)
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
