"""Every language's driver runs every vector through the one engine (see README.md here).

For each (driver, store) pair the test starts two fresh servers (main and quota), starts the
driver once, and runs every scenario in file order; each one must pass. The languages are the
rows of tests/_drivers.py (``TASKSTATE_CONFORMANCE_DRIVERS=python,go`` narrows a run).
"""

from __future__ import annotations

import json
import os
import re
import secrets
from pathlib import Path
from typing import Any

import pytest
from _drivers import running_driver, selected_drivers
from conformance.engine import matchers, scenario, vectors
from conformance.engine.driver import DriverFailure
from conformance.engine.scenario import Servers, run_vectors

COMMON_FLAGS = [
    "--max-variables-bytes",
    "65536",
    "--default-ttl",
    "1h",
    "--max-ttl",
    "24h",
    "--default-poll-interval",
    "1s",
]
MAIN_FLAGS = [*COMMON_FLAGS, "--max-active-tasks", "10000"]
# A short feed retention lets 103_watch_all_compacted age a cursor out in seconds.
QUOTA_FLAGS = [*COMMON_FLAGS, "--max-active-tasks", "3", "--feed-retention", "2s"]
SELECT_ENV = "TASKSTATE_CONFORMANCE_VECTORS"


def selected_files() -> list[Path]:
    """Every vector, or those whose name starts with one of TASKSTATE_CONFORMANCE_VECTORS'
    comma-separated prefixes (``09,101`` runs 090-099 and 101): for iterating on a few."""
    files: list[Path] = vectors.vector_files()
    prefixes = [p.strip() for p in os.environ.get(SELECT_ENV, "").split(",") if p.strip()]
    if not prefixes:
        return files
    chosen = [f for f in files if f.stem.startswith(tuple(prefixes))]
    if not chosen:
        raise ValueError(f"{SELECT_ENV}={prefixes}: no vector matches")
    return chosen


@pytest.mark.timeout(900)
@pytest.mark.parametrize("driver", selected_drivers())
async def test_driver_passes_every_vector(
    driver: str, store_name: str, server_factory: Any
) -> None:
    owners = {name: f"conformance-{name}-{secrets.token_hex(8)}" for name in ("alice", "bob")}
    tokens_file = {name: [tok] for name, tok in owners.items()}
    main = server_factory(store_name, args=MAIN_FLAGS, tokens=tokens_file)
    quota = server_factory(store_name, args=QUOTA_FLAGS, tokens=tokens_file)
    files = selected_files()
    async with running_driver(driver) as process:
        results = await run_vectors(process, Servers(main.address, quota.address, owners), files)
        failed = {name: why for name, why in results.items() if why is not None}
        report = "\n".join(f"  FAIL {name}: {why}" for name, why in failed.items())
        assert not failed, f"{len(failed)} scenario(s) failed\n{report}\n{process.stderr_tail()}"
    assert sorted(results) == sorted(p.stem for p in files)


def test_vectors_are_well_formed() -> None:
    files = vectors.vector_files()
    assert files, f"no vectors in {vectors.VECTORS_DIR}"
    problems = []
    for path in files:
        if not re.fullmatch(r"\d{3}_[a-z0-9_]+\.json", path.name):
            problems.append(f"{path.name}: file name must be NNN_lower_snake.json")
        doc = json.loads(path.read_text(encoding="utf-8"))
        problems += [f"{path.name}: {p}" for p in vectors.validate_scenario(doc, path.stem)]
    prefixes = [p.name[:3] for p in files]
    assert len(set(prefixes)) == len(prefixes), "two vectors share a number"
    assert not problems, "\n".join(problems)


def test_every_op_is_exercised() -> None:
    used = {
        step["op"]
        for path in vectors.vector_files()
        for step in json.loads(path.read_text(encoding="utf-8"))["steps"]
    }
    assert used == set(vectors.OPS), f"ops never used: {set(vectors.OPS) - used}"


@pytest.mark.parametrize(
    ("actual", "matcher", "ok"),
    [
        (3.0, 3, True),
        ({"a": [1, 2]}, {"a": [1, 2]}, True),
        ({"a": 1, "b": 2}, {"a": 1}, False),
        (True, 1, False),
        (matchers.ABSENT, None, False),
        (None, None, True),
        (matchers.ABSENT, {"$exists": False}, True),
        (5, {"$gt": 4, "$lte": 5}, True),
        (5, {"$gt": 5}, False),
        ([1, 2, 3], {"$len": 3, "$increasing": True, "$unique": True}, True),
        ([1, 3, 2], {"$increasing": True}, False),
        ([5, 9, 4, 1], {"$subsequence": [5, 4, 1]}, True),
        ([5, 9, 4, 1], {"$subsequence": [4, 5]}, False),
        ([1, 1], {"$unique": True}, False),
        (["x", "y"], {"$contains": "y", "$not_contains": "z"}, True),
        ([2, 3], {"$each": {"$gt": 1}}, True),
        ([2, 1], {"$each": {"$gt": 1}}, False),
        ("abc-7", {"$regex": "^[a-c]+-7$"}, True),
        ({"$gt": 1}, {"$eq": {"$gt": 1}}, True),
        (1, {"$ne": 2}, True),
    ],
)
def test_engine_matchers(actual: Any, matcher: Any, ok: bool) -> None:
    assert (matchers.mismatch(actual, matcher) is None) is ok


def test_engine_paths_and_substitution() -> None:
    value = {"a": {"b": [10, 20, 30]}}
    assert matchers.resolve_path(value, "a.b.-1") == 30
    assert matchers.resolve_path(value, "a.b.0") == 10
    assert matchers.resolve_path(value, "a.b.3") is matchers.ABSENT
    assert matchers.resolve_path(value, "") == value
    saved = {"t": "abc", "v": 2}
    out = vectors.substitute(
        {"x": "${v}", "y": "id-${t}-${v}", "z": {"$repeat": ["ab", 2]}}, saved, generators=True
    )
    assert out == {"x": 2, "y": "id-abc-2", "z": "abab"}


def test_engine_error_metadata_matchers() -> None:
    got = matchers.Outcome(
        False,
        {
            "code": "FAILED_PRECONDITION",
            "reason": "LEASE_HELD",
            "message": "",
            "metadata": {"lease_expire_time": "2026-12-03T10:00:01.500Z", "n": "2"},
        },
    )
    ok = {
        "code": "FAILED_PRECONDITION",
        "metadata": {"lease_expire_time": {"$regex": "Z$"}, "n": 2},
    }
    matchers.check_expect(got, {"error": ok})
    with pytest.raises(vectors.ScenarioError):
        matchers.check_expect(got, {"error": {**ok, "metadata": {"n": 3}}})
    with pytest.raises(vectors.ScenarioError):
        matchers.check_expect(got, {"error": {**ok, "metadata": {"gone": {"$exists": True}}}})


def test_engine_collected_events() -> None:
    task = {"task_id": "t", "version": 2, "status": "working", "variables": {}}
    write = {"kind": "write", "task_id": "t", "version": 2, "resume_cursor": "c", "task": task}
    deleted = {"kind": "deleted", "task_id": "t", "version": 2, "resume_cursor": "d"}
    progress = {"kind": "progress", "task_id": "", "version": 0, "resume_cursor": "e"}
    assert scenario._collected(write) == {"task_id": "t", "version": 2, "status": "working"}
    assert scenario._collected(deleted) == {"kind": "deleted", "task_id": "t", "version": 2}
    assert scenario._collected(progress) is None
    for bad in (
        {**deleted, "task": task},
        {**write, "resume_cursor": None},
        {**write, "kind": "x"},
    ):
        with pytest.raises(DriverFailure):
            scenario._next_outcome({"ok": bad})
    until_kind = {"handle": "h", "task_ids": [], "until": {"kind": "write"}}
    steps = [
        {"op": "watch_all_start", "args": {"handle": "h"}},
        {"op": "watch_all_collect", "args": until_kind},
    ]
    doc = {"name": "x", "description": "", "steps": steps}
    assert vectors.validate_scenario(doc) == [
        "step 1: watch_all_collect: until.kind must be one of ('deleted', 'expired')"
    ]
