"""A bare MCP requester for the tests, on the official SDK's public client API only.

Deliberately not taskstate_mcp's client helper: the server must be proven against a plain
SDK client that spells the extension's wire shapes itself (tasks.md), and these tests must
not depend on the helper they would otherwise also be testing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, ClassVar, Literal

import httpx2
from mcp.client import Client
from mcp.client.extension import ClaimContext, ClientExtension, NotificationBinding, ResultClaim
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, Request, RequestParams, Result
from pydantic import BaseModel, ConfigDict

EXT = "io.modelcontextprotocol/tasks"
SUB_ID = "io.modelcontextprotocol/subscriptionId"


class Open(BaseModel):
    """Any JSON object, kept whole (extra keys included)."""

    model_config = ConfigDict(extra="allow")

    def data(self) -> dict[str, Any]:
        return dict(self.model_extra or {}) | {
            k: v for k, v in self.__dict__.items() if not k.startswith("_")
        }


class OpenResult(Result):
    model_config = ConfigDict(extra="allow")

    def data(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, mode="json")


class CreateTask(Result):
    model_config = ConfigDict(extra="allow")
    result_type: Literal["task"] = "task"

    def data(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, mode="json")


class OpenParams(RequestParams):
    model_config = ConfigDict(extra="allow")


class TaskRequest(Request[OpenParams, str]):
    """A tasks/* request; `Mcp-Name` carries the task id (tasks.md, Routing Headers)."""

    name_param: ClassVar[str | None] = "taskId"


class PlainRequest(Request[OpenParams, str]):
    pass


class NotificationParams(BaseModel):
    model_config = ConfigDict(extra="allow")


async def _never(_result: CreateTask, _ctx: ClaimContext) -> CallToolResult:
    raise AssertionError("tests take the CreateTaskResult themselves (allow_claimed=True)")


class TasksProbe(ClientExtension):
    """Declares the tasks extension, claims `resultType: "task"`, records `notifications/tasks`."""

    identifier = EXT

    def __init__(self) -> None:
        self.notices: asyncio.Queue[tuple[float, dict[str, Any]]] = asyncio.Queue()

    def claims(self) -> list[ResultClaim[Any]]:
        return [ResultClaim(result_type="task", model=CreateTask, resolve=_never)]

    def notifications(self) -> list[NotificationBinding[Any]]:
        return [
            NotificationBinding(
                method="notifications/tasks", params_type=NotificationParams, handler=self._got
            )
        ]

    async def _got(self, params: NotificationParams) -> None:
        self.notices.put_nowait((time.perf_counter(), params.model_dump(mode="json")))


class Requester:
    """One connected client and the calls the tests make."""

    def __init__(self, client: Client, probe: TasksProbe | None) -> None:
        self.client = client
        self.probe = probe

    async def call(
        self, name: str, arguments: dict[str, Any] | None = None, **kw: Any
    ) -> dict[str, Any]:
        """tools/call; the raw result (a CreateTaskResult or a CallToolResult) as JSON."""
        result = await self.client.session.call_tool(
            name, arguments or {}, allow_claimed=True, **kw
        )
        return result.model_dump(by_alias=True, mode="json", exclude_none=True)

    async def request(
        self, method: str, params: dict[str, Any], *, task: bool = True
    ) -> dict[str, Any]:
        model = TaskRequest if task else PlainRequest
        req = model(method=method, params=OpenParams.model_validate(params))
        result = await self.client.session.send_request(req, OpenResult)
        return result.data()

    async def get(self, task_id: str) -> dict[str, Any]:
        return await self.request("tasks/get", {"taskId": task_id})

    async def until(
        self,
        task_id: str,
        statuses: set[str],
        timeout: float = 30.0,  # noqa: ASYNC109 - a polling budget
    ) -> dict[str, Any]:
        """Polls tasks/get at the task's pollIntervalMs until one of `statuses`."""
        deadline = time.monotonic() + timeout
        while True:
            task = await self.get(task_id)
            if task["status"] in statuses:
                return task
            assert time.monotonic() < deadline, f"task stuck in {task['status']}: {task}"
            await asyncio.sleep(min(task.get("pollIntervalMs", 100), 100) / 1000)


@asynccontextmanager
async def connect(
    url: str, *, user: str | None = None, tasks: bool = True, mode: str = "auto"
) -> AsyncIterator[Requester]:
    headers = {"Authorization": f"Bearer user-{user}"} if user else {}
    probe = TasksProbe() if tasks else None
    async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(60.0)) as http:
        transport = streamable_http_client(url, http_client=http)
        async with Client(transport, extensions=[probe] if probe else None, mode=mode) as client:
            yield Requester(client, probe)
