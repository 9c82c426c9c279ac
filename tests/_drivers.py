"""The conformance drivers of every language: which exist, building them, starting them.

A driver is a directory with two scripts (tests/conformance/README.md, "The driver protocol"):
``build`` (idempotent; run once per pytest session here) and ``run`` (the driver itself, which
speaks the line protocol on stdin/stdout). Adding a language is one line in LANGUAGES.

``TASKSTATE_CONFORMANCE_DRIVERS=python,go`` restricts a run to some languages; an unknown name
is an error, and a failed build or a missing toolchain FAILS the test that needs it (never a skip).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from conformance.engine.driver import DriverProcess

REPO = Path(__file__).resolve().parents[1]
DRIVERS_DIR = REPO / "tests" / "conformance" / "drivers"

# language -> its driver directory. One line per language.
LANGUAGES: dict[str, Path] = {
    "python": DRIVERS_DIR / "python",
    "go": DRIVERS_DIR / "go",
    "typescript": DRIVERS_DIR / "typescript",
    "rust": DRIVERS_DIR / "rust",
    "java": DRIVERS_DIR / "java",
}

SELECT_ENV = "TASKSTATE_CONFORMANCE_DRIVERS"
BUILD_TIMEOUT = 900.0  # a cold cargo or maven build on a shared machine

_built: dict[str, str | None] = {}  # language -> None (built) or why its build failed


def selected_drivers() -> list[str]:
    """The languages of this run (all of LANGUAGES unless the environment narrows it)."""
    raw = os.environ.get(SELECT_ENV, "")
    names = [n.strip() for n in raw.split(",") if n.strip()] or list(LANGUAGES)
    unknown = [n for n in names if n not in LANGUAGES]
    if unknown:
        raise ValueError(f"{SELECT_ENV}: unknown driver(s) {unknown}; known: {list(LANGUAGES)}")
    return names


def _build(lang: str) -> str | None:
    script = LANGUAGES[lang] / "build"
    try:
        proc = subprocess.run(
            [str(script)],
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        return f"{script} did not finish within {BUILD_TIMEOUT:.0f}s\n{_output(exc)}"
    except OSError as exc:
        return f"cannot run {script}: {exc}"
    if proc.returncode != 0:
        return f"{script} exited with {proc.returncode}\n{_output(proc)}"
    return None


def _output(proc: subprocess.CompletedProcess[str] | subprocess.TimeoutExpired) -> str:
    def text(data: str | bytes | None) -> str:
        if isinstance(data, bytes):
            return data.decode("utf-8", "replace")
        return data or ""

    return (
        f"--- stdout ---\n{text(proc.stdout)[-8000:]}\n--- stderr ---\n{text(proc.stderr)[-8000:]}"
    )


def require_built(lang: str) -> Path:
    """Builds the driver once per session; fails the calling test if the build failed."""
    if lang not in _built:
        _built[lang] = _build(lang)
    why = _built[lang]
    if why is not None:
        pytest.fail(f"building the {lang} conformance driver failed: {why}", pytrace=False)
    return LANGUAGES[lang] / "run"


@asynccontextmanager
async def running_driver(lang: str) -> AsyncIterator[DriverProcess]:
    """A started driver (its hello read); closed (stdin closed, then killed if need be) on exit."""
    run = require_built(lang)
    driver = await DriverProcess.start(lang, [str(run)], cwd=REPO)
    try:
        yield driver
    finally:
        await driver.close()
