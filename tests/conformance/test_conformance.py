"""Runs every language's conformance runner against fresh live servers (see README.md here).

To add a language, put its runner's command line (run from the repository root) into RUNNERS.
``TASKSTATE_CONFORMANCE_RUNNERS=python,go`` restricts a run to some runners (an unknown name is an
error, never a skip).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
VECTORS_DIR = HERE / "vectors"

sys.path.insert(0, str(HERE))

import runner_python  # noqa: E402

RUNNERS: dict[str, list[str]] = {
    "python": [sys.executable, str(HERE / "runner_python.py")],
    "go": ["go", "-C", str(REPO / "clients/go"), "run", "./cmd/conformance"],
    # Built by `make test` (npm run build) before pytest runs; a test tool, not in the npm package.
    "typescript": ["node", str(REPO / "clients/typescript/build/tools/conformance.js")],
    "rust": [
        "cargo",
        "run",
        "--quiet",
        "--manifest-path",
        str(REPO / "clients/rust/Cargo.toml"),
        "--example",
        "conformance",
    ],
}

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
QUOTA_FLAGS = [*COMMON_FLAGS, "--max-active-tasks", "3"]
RUNNER_TIMEOUT = 600.0
RESULT_RE = re.compile(r"^(PASS|FAIL) (\S+)(?:: (.*))?$")
SUMMARY_RE = re.compile(r"^(\d+) passed, (\d+) failed$")


def selected_runners() -> list[str]:
    raw = os.environ.get("TASKSTATE_CONFORMANCE_RUNNERS", "")
    names = [n.strip() for n in raw.split(",") if n.strip()] or list(RUNNERS)
    unknown = [n for n in names if n not in RUNNERS]
    if unknown:
        raise ValueError(f"TASKSTATE_CONFORMANCE_RUNNERS: unknown runner(s) {unknown}")
    return names


def vector_files() -> list[Path]:
    return sorted(VECTORS_DIR.glob("*.json"))


# ---------------------------------------------------------------------------------------------
# The generic driver
# ---------------------------------------------------------------------------------------------


@dataclass
class RunnerResult:
    returncode: int
    stdout: str
    stderr: str
    passed: list[str]
    failed: dict[str, str]
    summary: tuple[int, int] | None

    def report(self) -> str:
        fails = "\n".join(f"  FAIL {n}: {why}" for n, why in self.failed.items())
        return (
            f"exit code {self.returncode}\n{fails}\n--- stdout ---\n{self.stdout[-8000:]}"
            f"\n--- stderr ---\n{self.stderr[-8000:]}"
        )


def run_runner(
    command: list[str],
    *,
    address: str,
    quota_address: str,
    tokens: dict[str, str],
    vectors_dir: Path = VECTORS_DIR,
    timeout: float = RUNNER_TIMEOUT,
) -> RunnerResult:
    """Runs one runner program with the README's environment and parses its report."""
    env = {k: v for k, v in os.environ.items() if k not in ("TASKSTATE_TOKEN",)}
    env.update(
        TASKSTATE_ADDRESS=address,
        TASKSTATE_QUOTA_ADDRESS=quota_address,
        TASKSTATE_TOKEN_ALICE=tokens["alice"],
        TASKSTATE_TOKEN_BOB=tokens["bob"],
        TASKSTATE_VECTORS_DIR=str(vectors_dir),
    )
    proc = subprocess.run(
        command,
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    passed: list[str] = []
    failed: dict[str, str] = {}
    summary = None
    for line in proc.stdout.splitlines():
        if m := RESULT_RE.match(line):
            if m.group(1) == "PASS":
                passed.append(m.group(2))
            else:
                failed[m.group(2)] = m.group(3) or ""
        elif m := SUMMARY_RE.match(line):
            summary = (int(m.group(1)), int(m.group(2)))
    return RunnerResult(proc.returncode, proc.stdout, proc.stderr, passed, failed, summary)


def assert_conformant(result: RunnerResult, vectors_dir: Path = VECTORS_DIR) -> None:
    expected = sorted(p.stem for p in vectors_dir.glob("*.json"))
    assert not result.failed, f"{len(result.failed)} scenario(s) failed\n{result.report()}"
    assert result.returncode == 0, result.report()
    assert sorted(result.passed) == expected, (
        f"PASS lines do not cover the vectors exactly: missing "
        f"{sorted(set(expected) - set(result.passed))}, unexpected "
        f"{sorted(set(result.passed) - set(expected))}\n{result.report()}"
    )
    assert result.summary == (len(expected), 0), f"bad summary line\n{result.report()}"


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("runner", selected_runners())
def test_runner_passes_every_vector(runner: str, store_name: str, server_factory) -> None:
    owners = {name: f"conformance-{name}-{secrets.token_hex(8)}" for name in ("alice", "bob")}
    tokens_file = {name: [tok] for name, tok in owners.items()}
    main = server_factory(store_name, args=MAIN_FLAGS, tokens=tokens_file)
    quota = server_factory(store_name, args=QUOTA_FLAGS, tokens=tokens_file)
    result = run_runner(
        RUNNERS[runner], address=main.address, quota_address=quota.address, tokens=owners
    )
    assert_conformant(result)


def test_vectors_are_well_formed() -> None:
    files = vector_files()
    assert files, f"no vectors in {VECTORS_DIR}"
    problems = []
    for path in files:
        if not re.fullmatch(r"\d{3}_[a-z0-9_]+\.json", path.name):
            problems.append(f"{path.name}: file name must be NNN_lower_snake.json")
        doc = json.loads(path.read_text(encoding="utf-8"))
        problems += [f"{path.name}: {p}" for p in runner_python.validate_scenario(doc, path.stem)]
    prefixes = [p.name[:3] for p in files]
    assert len(set(prefixes)) == len(prefixes), "two vectors share a number"
    assert not problems, "\n".join(problems)


def test_every_op_is_exercised() -> None:
    used = {
        step["op"]
        for path in vector_files()
        for step in json.loads(path.read_text(encoding="utf-8"))["steps"]
    }
    assert used == set(runner_python.OPS), f"ops never used: {set(runner_python.OPS) - used}"


@pytest.mark.parametrize(
    ("actual", "matcher", "ok"),
    [
        (3.0, 3, True),
        ({"a": [1, 2]}, {"a": [1, 2]}, True),
        ({"a": 1, "b": 2}, {"a": 1}, False),
        (True, 1, False),
        (runner_python._ABSENT, None, False),
        (None, None, True),
        (runner_python._ABSENT, {"$exists": False}, True),
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
def test_python_runner_matchers(actual, matcher, ok) -> None:
    assert (runner_python.mismatch(actual, matcher) is None) is ok


def test_python_runner_paths_and_substitution() -> None:
    value = {"a": {"b": [10, 20, 30]}}
    assert runner_python.resolve_path(value, "a.b.-1") == 30
    assert runner_python.resolve_path(value, "a.b.0") == 10
    assert runner_python.resolve_path(value, "a.b.3") is runner_python._ABSENT
    assert runner_python.resolve_path(value, "") == value
    saved = {"t": "abc", "v": 2}
    out = runner_python.substitute(
        {"x": "${v}", "y": "id-${t}-${v}", "z": {"$repeat": ["ab", 2]}}, saved, generators=True
    )
    assert out == {"x": 2, "y": "id-abc-2", "z": "abab"}
