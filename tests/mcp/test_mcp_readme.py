"""The root README's MCP section runs as written (against the example's two replicas).

The server block must build a server with its tool marked task-capable; the requester block
runs for real: a task started on replica A, followed and answered through replica B.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## MCP: durable tasks for MCP servers"


def _python_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.index("\n## ", start + len(SECTION))
    return re.findall(r"```python\n(.*?)```", text[start:end], flags=re.S)


def test_readme_mcp_section_has_a_server_and_a_requester_block() -> None:
    blocks = _python_blocks()
    assert len(blocks) == 2
    # "ten lines": the server snippet stays short.
    assert len([line for line in blocks[0].splitlines() if line.strip()]) <= 10


def test_readme_server_block_marks_its_tool_as_a_task() -> None:
    namespace: dict[str, Any] = {}
    exec(compile(_python_blocks()[0], "README.md (MCP server)", "exec"), namespace)
    assert "greet" in namespace["tasks"].task_tools


def test_readme_requester_block_follows_a_task_across_replicas(mcp_cluster) -> None:
    cluster = mcp_cluster(demo_auth=False)  # the README's clients send no bearer token
    code = _python_blocks()[1]
    code = code.replace("http://127.0.0.1:8001/mcp", cluster.a.url)
    code = code.replace("http://127.0.0.1:8002/mcp", cluster.b.url)
    body = "async def _readme() -> None:\n" + textwrap.indent(code, "    ")
    namespace: dict[str, Any] = {}
    exec(compile(body, "README.md (MCP requester)", "exec"), namespace)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        asyncio.run(asyncio.wait_for(namespace["_readme"](), 60))
    printed = out.getvalue()
    assert "Ada" in printed, printed
    assert "isError=False" in printed or "is_error=False" in printed, printed
