"""The 2025-11-25 task methods (SEP-1686) through the same replicas, as far as the SDK serves them.

The server side is complete: task-augmented tools/call (`params.task`), tasks/get,
tasks/result, tasks/list, tasks/cancel. The official SDK's client, though, validates a
2025-11-25 tools/call result as a CallToolResult and refuses `{task: ...}`, so that one
request is sent as a raw streamable HTTP POST; everything after it goes through the
official client in legacy (initialize handshake) mode.
"""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest
from _mcp_client import connect
from conftest import ClusterFactory
from mcp.shared.exceptions import MCPError

RELATED = "io.modelcontextprotocol/related-task"


async def legacy_task_call(
    url: str, user: str, name: str, arguments: dict[str, Any]
) -> dict[str, Any]:
    headers = {
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-11-25",
        "Authorization": f"Bearer user-{user}",
    }
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments, "task": {"ttl": 60000}},
    }
    async with httpx2.AsyncClient() as http:
        response = await http.post(url, json=body, headers=headers)
    assert response.status_code == 200, response.text
    for line in response.text.splitlines():
        if line.startswith("data:"):
            message: dict[str, Any] = json.loads(line[5:])
            return message
    raise AssertionError(f"no JSON-RPC message in {response.text!r}")


async def test_legacy_flow_across_replicas(mcp_cluster: ClusterFactory) -> None:
    cluster = mcp_cluster()
    created = await legacy_task_call(cluster.a.url, "ann", "slow", {"seconds": 0.3})
    task = created["result"]["task"]
    assert task["status"] == "working"
    assert set(task) >= {"taskId", "createdAt", "lastUpdatedAt", "ttl", "pollInterval"}
    async with connect(cluster.b.url, user="ann", tasks=False, mode="legacy") as b:
        got = await b.request("tasks/get", {"taskId": task["taskId"]})
        assert got["taskId"] == task["taskId"]
        assert got["status"] in ("working", "completed")
        result = await b.request(
            "tasks/result", {"taskId": task["taskId"]}
        )  # blocks until terminal
        assert result["content"] == [{"type": "text", "text": "slept 0.3s"}]
        assert result["isError"] is False
        assert result["_meta"][RELATED] == {"taskId": task["taskId"]}
        listed = await b.request("tasks/list", {}, task=False)
        assert task["taskId"] in [t["taskId"] for t in listed["tasks"]]
        assert all("ttl" in t for t in listed["tasks"])


async def test_legacy_cancel_is_terminal_at_once_and_scoped(mcp_cluster: ClusterFactory) -> None:
    cluster = mcp_cluster()
    created = await legacy_task_call(cluster.a.url, "ann", "slow", {"seconds": 30})
    task_id = created["result"]["task"]["taskId"]
    async with connect(cluster.b.url, user="bob", tasks=False, mode="legacy") as bob:
        with pytest.raises(MCPError) as err:
            await bob.request("tasks/cancel", {"taskId": task_id})
        assert err.value.code == -32602
        assert task_id not in [
            t["taskId"] for t in (await bob.request("tasks/list", {}, task=False))["tasks"]
        ]
    async with connect(cluster.b.url, user="ann", tasks=False, mode="legacy") as ann:
        cancelled = await ann.request("tasks/cancel", {"taskId": task_id})
        assert cancelled["status"] == "cancelled"
        assert (await ann.request("tasks/get", {"taskId": task_id}))["status"] == "cancelled"
        with pytest.raises(MCPError) as err:
            await ann.request("tasks/cancel", {"taskId": task_id})
        assert err.value.code == -32602
