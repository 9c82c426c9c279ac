"""The example tool handler in clients/python/examples runs end to end."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from taskstate_client import AsyncTaskClient, TaskStatus

EXAMPLE = Path(__file__).parents[2] / "clients" / "python" / "examples" / "tool_handler.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("taskstate_example_tool_handler", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_tool_handler_example(
    aclient: AsyncTaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    example = _load()
    final = await example.demo(aclient, "testing")
    assert final.status is TaskStatus.COMPLETED
    assert final.variables["progress"] == 1
    assert final.result["title"] == "Report on testing"
    assert len(final.result["sections"]) == example.STEPS
    out = capsys.readouterr().out
    assert out.startswith(f"tool returned task {final.task_id}")


async def test_tool_returns_before_the_work_is_done(aclient: AsyncTaskClient) -> None:
    example = _load()
    task_id = await example.make_report(aclient, "x", step_seconds=0.05)
    assert len(example._background) == 1  # returned with the work still pending
    done = await aclient.wait(task_id, timeout=30)
    assert done.status is TaskStatus.COMPLETED
