"""An MCP server whose tools run as durable tasks in taskstate; start it twice for two replicas.

    python -m taskstate_server --listen 127.0.0.1:50051 --store redis://127.0.0.1:6379/0
    python clients/python-mcp/examples/mcp_server.py --port 8001 --taskstate 127.0.0.1:50051
    python clients/python-mcp/examples/mcp_server.py --port 8002 --taskstate 127.0.0.1:50051

Each replica may instead have its own taskstate server on the same Redis. The endpoint is
http://127.0.0.1:PORT/mcp (streamable HTTP, stateless: any replica answers any request).
With --demo-auth, a bearer token "user-<name>" is end user <name> (the tasks' subject).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import os
import random

import uvicorn
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from mcp_types import ImageContent, TextContent
from pydantic import AnyHttpUrl
from taskstate_client import AsyncTaskClient
from taskstate_mcp.server import TaskstateTasks, current_task, run_worker


class DemoTokens:
    """Bearer "user-<name>" is end user <name>: a stand-in for a real OAuth verifier."""

    async def verify_token(self, token: str) -> AccessToken | None:
        if not token.startswith("user-") or len(token) <= 5:
            return None
        return AccessToken(token=token, client_id="demo", scopes=[], subject=token[5:])


def image_bytes(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def build(args: argparse.Namespace) -> tuple[MCPServer, TaskstateTasks]:
    tasks = TaskstateTasks(
        args.taskstate,
        token=args.token,
        run="workers" if args.workers == "external" else "inprocess",
        lease=args.lease,
        lease_policy=args.lease_policy,
        max_attempts=args.max_attempts,
        poll_interval=args.poll_interval,
    )
    auth: dict[str, object] = {}
    if args.demo_auth:
        url = AnyHttpUrl(f"http://127.0.0.1:{args.port}")
        auth = {
            "token_verifier": DemoTokens(),
            "auth": AuthSettings(issuer_url=url, resource_server_url=url),
        }
    server: MCPServer = MCPServer(
        "taskstate-demo",
        extensions=[tasks],
        middleware=tasks.middleware(),
        **auth,  # type: ignore[arg-type]
    )

    @tasks.tool(server)
    async def slow(seconds: float = 5.0) -> str:
        """Sleeps `seconds`, a stand-in for a long operation."""
        await asyncio.sleep(seconds)
        return f"slept {seconds}s"

    @tasks.tool(server)
    async def ask_name() -> str:
        """Counts a side effect, asks the user's name (input_required), and greets."""
        task = current_task()
        if task is None:
            return "call me as a task to be asked"
        ctx = task.context
        await ctx.set("side_effects", int(ctx.get("side_effects", 0) or 0) + 1)
        form = {
            "mode": "form",
            "message": "Please enter your name.",
            "requestedSchema": {
                "type": "object",
                "properties": {"name": {"type": "string"}},
                "required": ["name"],
            },
        }
        answers = await task.ask(
            {"name": {"method": "elicitation/create", "params": form}}, message="waiting for a name"
        )
        answer = answers.get("name")
        content = answer.get("content") if isinstance(answer, dict) else None
        name = content.get("name") if isinstance(content, dict) else None
        count = (await ctx.refresh()).variables.get("side_effects")
        return f"Hello, {name}! (side effects: {count})"

    @tasks.tool(server)
    async def crash(after: float = 0.5) -> str:
        """Kills the process running it (its worker) `after` seconds in: the task must fail, once.

        The pause lets the CreateTaskResult leave first when the worker is the replica.
        """
        await asyncio.sleep(after)
        os._exit(17)

    @tasks.tool(server)
    async def image(size: int = 1 << 20, seed: int = 1) -> list[ImageContent | TextContent]:
        """An image block of `size` random bytes, and their sha256."""
        data = image_bytes(size, seed)
        return [
            ImageContent(data=base64.b64encode(data).decode(), mime_type="image/png"),
            TextContent(text=hashlib.sha256(data).hexdigest()),
        ]

    @server.tool()
    async def echo(text: str) -> str:
        """Not task-capable: always answers directly."""
        return text

    return server, tasks


async def main(args: argparse.Namespace) -> None:
    server, tasks = build(args)
    if args.worker:
        client = AsyncTaskClient(args.taskstate, token=args.token)
        await run_worker(server, client, lease=args.lease)
        return
    app = server.streamable_http_app(stateless_http=True, host="127.0.0.1")
    config = uvicorn.Config(app, host="127.0.0.1", port=args.port, log_level="warning")
    try:
        await uvicorn.Server(config).serve()
    finally:
        await tasks.aclose()


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--port", type=int, default=8001)
    p.add_argument("--taskstate", default=os.environ.get("TASKSTATE_ADDRESS", "127.0.0.1:50051"))
    p.add_argument("--token", default=os.environ.get("TASKSTATE_TOKEN"))
    p.add_argument(
        "--lease", type=float, default=30.0, help="seconds; a dead runner's task fails after this"
    )
    p.add_argument("--lease-policy", choices=["fail", "release"], default="fail")
    p.add_argument("--max-attempts", type=int, default=0)
    p.add_argument("--poll-interval", type=float, default=1.0)
    p.add_argument("--workers", choices=["inprocess", "external"], default="inprocess")
    p.add_argument(
        "--worker", action="store_true", help="run as a worker process (with --workers external)"
    )
    p.add_argument(
        "--demo-auth", action="store_true", help='bearer "user-<name>" is end user <name>'
    )
    return p.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
