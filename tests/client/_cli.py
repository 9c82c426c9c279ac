"""Drives the `taskstate` CLI in-process (main([...])) and captures what it printed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from taskstate_client.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of one `taskstate ARGV...`."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    """The parsed --json output of a command that must succeed."""
    code, out, err = run(capsys, "--json", *argv)
    assert code == 0, err
    return json.loads(out)
