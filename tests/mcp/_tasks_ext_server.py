"""A small MCP server speaking the tasks extension (SEP-2663), written for the requester tests.

Independent of taskstate: it proves `taskstate_mcp.client` works against any server that speaks
the extension. State is in memory; tasks move only when a test says so (the `release` tool, or
`tasks/update`), so no test needs to sleep. Run: `python _tasks_ext_server.py [--no-listen]
[--poll-ms N]`; it prints its port on the first line of stdout.
"""

from __future__ import annotations

import argparse
import socket
import uuid
from datetime import UTC, datetime
from typing import Any, Literal, cast

import anyio
import mcp_types as types
import uvicorn
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import SUBSCRIPTION_ID_META_KEY

EXT = "io.modelcontextprotocol/tasks"
MISSING_CAPABILITY = -32021


class TaskIdParams(types.RequestParams):
    task_id: str


class UpdateParams(TaskIdParams):
    input_responses: dict[str, Any]


class TaskNotification(types.Notification[dict[str, Any], Literal["notifications/tasks"]]):
    method: Literal["notifications/tasks"] = "notifications/tasks"


def now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class Tasks:
    def __init__(self, poll_ms: int) -> None:
        self.poll_ms = poll_ms
        self.tasks: dict[str, dict[str, Any]] = {}
        self.kinds: dict[str, str] = {}
        self.streams: dict[int, tuple[set[str], Any]] = {}
        self.calls: list[str] = []

    def create(self, kind: str) -> dict[str, Any]:
        task_id = uuid.uuid4().hex
        stamp = now()
        task = {
            "taskId": task_id,
            "status": "working",
            "createdAt": stamp,
            "lastUpdatedAt": stamp,
            "ttlMs": None,
            "pollIntervalMs": self.poll_ms,
        }
        self.tasks[task_id] = task
        self.kinds[task_id] = kind
        return task

    def set(self, task_id: str, **fields: Any) -> None:
        task = self.tasks[task_id]
        for key in ("inputRequests", "result", "error", "statusMessage"):
            task.pop(key, None)
        task.update(fields, lastUpdatedAt=now())
        for ids, send in list(self.streams.values()):
            if task_id in ids:
                send.send_nowait(dict(task))

    def listened(self, task_id: str) -> bool:
        return any(task_id in ids for ids, _ in self.streams.values())

    def find(self, task_id: str) -> dict[str, Any]:
        if task_id not in self.tasks:
            raise MCPError(types.INVALID_PARAMS, "Failed to retrieve task: Task not found")
        return self.tasks[task_id]


def has_ext(ctx: ServerRequestContext[Any, Any]) -> bool:
    caps = cast(dict[str, Any], (ctx.meta or {}).get(types.CLIENT_CAPABILITIES_META_KEY) or {})
    return EXT in (caps.get("extensions") or {})


def require(ctx: ServerRequestContext[Any, Any], task_id: str) -> None:
    if not has_ext(ctx):
        raise MCPError(MISSING_CAPABILITY, "Missing required client capability")
    headers = getattr(ctx.request, "headers", None)
    if headers is not None and headers.get("mcp-name") != task_id:
        raise MCPError(types.HEADER_MISMATCH, "Mcp-Name must equal params.taskId")


def build(poll_ms: int, listen: bool) -> Server[Any]:
    state = Tasks(poll_ms)

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        names = ["echo", "slow", "ask", "boom", "lazy", "pushy", "release", "calls"]
        schema = {"type": "object"}
        return types.ListToolsResult(tools=[types.Tool(name=n, input_schema=schema) for n in names])

    def text(value: str) -> dict[str, Any]:
        result = types.CallToolResult(content=[types.TextContent(type="text", text=value)])
        return result.model_dump(by_alias=True, mode="json", exclude_none=True)

    async def call_tool(
        ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> Any:
        args = params.arguments or {}
        state.calls.append(params.name)
        if params.name == "echo":
            return types.CallToolResult.model_validate(text(str(args.get("text", ""))))
        if params.name == "calls":
            return types.CallToolResult.model_validate(text(",".join(state.calls)))
        if params.name == "release":
            task_id = str(args["taskId"])
            if state.kinds[task_id] == "boom":
                state.set(task_id, status="failed", error={"code": -32603, "message": "boom"})
            elif state.tasks[task_id]["status"] not in ("completed", "failed", "cancelled"):
                state.set(task_id, status="completed", result=text(f"slow done {args.get('n', 0)}"))
            return types.CallToolResult.model_validate(text("released"))
        if params.name in ("slow", "ask", "boom", "lazy", "pushy"):
            if not has_ext(ctx):
                return types.CallToolResult.model_validate(text(f"{params.name} ran inline"))
            task = state.create(params.name)
            if params.name == "ask":
                ask = {
                    "method": "elicitation/create",
                    "params": {
                        "mode": "form",
                        "message": "Your name?",
                        "requestedSchema": {
                            "type": "object",
                            "properties": {"name": {"type": "string"}},
                            "required": ["name"],
                        },
                    },
                }
                state.set(task["taskId"], status="input_required", inputRequests={"name-1": ask})
            return {"resultType": "task", **state.tasks[task["taskId"]]}
        raise MCPError(types.INVALID_PARAMS, f"unknown tool {params.name}")

    async def get(ctx: ServerRequestContext[Any, Any], params: TaskIdParams) -> dict[str, Any]:
        require(ctx, params.task_id)
        task = state.find(params.task_id)
        snapshot = dict(task)
        kind = state.kinds[params.task_id]
        if kind == "lazy" and task["status"] == "working":
            state.set(params.task_id, status="completed", result=text("lazy done"))
            return dict(task)
        if kind == "pushy" and task["status"] == "working" and state.listened(params.task_id):
            # Completes only by push: this read answers the state from before the change.
            state.set(params.task_id, status="completed", result=text("pushed"))
        return snapshot

    async def update(ctx: ServerRequestContext[Any, Any], params: UpdateParams) -> dict[str, Any]:
        require(ctx, params.task_id)
        task = state.find(params.task_id)
        answer = params.input_responses.get("name-1")
        if task["status"] == "input_required" and isinstance(answer, dict):
            name = answer.get("content", {}).get("name", "?")
            state.set(params.task_id, status="completed", result=text(f"Hello, {name}!"))
        return {}

    async def cancel(ctx: ServerRequestContext[Any, Any], params: TaskIdParams) -> dict[str, Any]:
        require(ctx, params.task_id)
        if state.find(params.task_id)["status"] not in ("completed", "failed", "cancelled"):
            state.set(params.task_id, status="cancelled", statusMessage="cancelled by request")
        return {}

    async def subscribe(
        ctx: ServerRequestContext[Any, Any], params: types.SubscriptionsListenRequestParams
    ) -> types.SubscriptionsListenResult:
        raw_ids = (params.notifications.model_extra or {}).get("taskIds") or []
        if raw_ids and not has_ext(ctx):
            raise MCPError(MISSING_CAPABILITY, "Missing required client capability")
        ids = {str(i) for i in raw_ids if str(i) in state.tasks}
        meta = {SUBSCRIPTION_ID_META_KEY: ctx.request_id}
        send, receive = anyio.create_memory_object_stream[dict[str, Any]](1024)
        key = id(send)
        state.streams[key] = (ids, send)
        try:
            honored = types.SubscriptionFilter.model_validate({"taskIds": sorted(ids)})
            await ctx.session.send_notification(
                types.SubscriptionsAcknowledgedNotification(
                    params=types.SubscriptionsAcknowledgedNotificationParams(
                        notifications=honored, _meta=meta
                    )
                ),
                related_request_id=ctx.request_id,
            )
            async for task in receive:
                note = TaskNotification(params={**task, "_meta": meta})
                await ctx.session.send_notification(
                    cast(types.ServerNotification, note), related_request_id=ctx.request_id
                )
        finally:
            state.streams.pop(key, None)
        return types.SubscriptionsListenResult(_meta=meta)

    server: Server[Any] = Server(
        "tasks-ext-test",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_subscriptions_listen=subscribe if listen else None,
    )
    server.add_request_handler("tasks/get", TaskIdParams, get)
    server.add_request_handler("tasks/update", UpdateParams, update)
    server.add_request_handler("tasks/cancel", TaskIdParams, cancel)
    return server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-listen", action="store_true")
    parser.add_argument("--poll-ms", type=int, default=50)
    args = parser.parse_args()
    server = build(args.poll_ms, listen=not args.no_listen)
    app = server.streamable_http_app()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    print(sock.getsockname()[1], flush=True)
    config = uvicorn.Config(app, log_level="warning")
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
