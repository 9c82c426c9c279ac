"""What `make run` and `make lint` do on a fresh clone, read from make's own plan (`make -B -n`).

`-B -n` prints every recipe the target would run with all of its prerequisites out of date,
as on a fresh clone, without running any. Two first-user complaints are checked on that plan:
`make run` sat silent for 88 s while it installed, and `make lint` spent minutes building the
Go, Rust and Java code generators it never uses.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def plan(target: str) -> list[str]:
    make = shutil.which("make")
    assert make, "make is not installed"
    done = subprocess.run(
        [make, "-B", "-n", "--no-print-directory", target],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # Join continued lines: one command per entry.
    return done.stdout.replace("\\\n", " ").splitlines()


def test_lint_installs_only_what_lint_uses() -> None:
    commands = "\n".join(plan("lint"))
    for tool_install in ("cargo install", "go install", "mvn", "clients/typescript"):
        assert tool_install not in commands, f"`make lint` would run {tool_install!r}"
    for linter in ("buf lint", "ruff check", "ruff format --check", "mypy", "hadolint"):
        assert linter in commands, f"`make lint` no longer runs {linter}"


@pytest.mark.parametrize("target", ["run", "lint", "test"])
def test_every_install_step_says_so_first(target: str) -> None:
    """Each long install is announced, and the longest one (pip) shows its own progress."""
    commands = plan(target)
    installs = [i for i, c in enumerate(commands) if re.search(r"pip install|npm ci", c)]
    assert installs, f"`make {target}` installs nothing on a fresh clone?"
    for i in installs:
        announced = [c for c in commands[max(0, i - 4) : i] if c.lstrip().startswith('echo ">>')]
        assert announced, f"`make {target}` starts {commands[i]!r} without a progress line"
    long_pip = [c for c in commands if "pip install" in c and "-r requirements-dev.txt" in c]
    assert long_pip and all("--quiet" not in c for c in long_pip), long_pip
