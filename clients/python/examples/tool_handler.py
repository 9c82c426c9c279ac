"""A tool handler that answers at once with a task id and finishes the work in the background.

This is the shape MCP's task-augmented tool calls want: `tools/call` returns
`{"task_id": ...}` immediately, the caller polls, waits for or watches the
task, and reads the result when it is completed. Progress is published as a
task variable, so any process (in any language) can show it.

Run it against a server (`make run`, or `taskstate-server --store memory://`):

    TASKSTATE_ADDRESS=127.0.0.1:50051 python clients/python/examples/tool_handler.py
"""

from __future__ import annotations

import asyncio
from typing import Any

from taskstate_client import AsyncTaskClient, Task, TaskContext

STEPS = 5

# asyncio keeps only weak references to tasks; hold them until they finish.
_background: set[asyncio.Task[None]] = set()


async def make_report(client: AsyncTaskClient, topic: str, *, step_seconds: float = 0.2) -> str:
    """The tool: creates the task, starts the work, and returns without waiting for it."""
    ctx = await TaskContext.create(
        client,
        request_method="tools/call:make_report",
        ttl=600,  # the result stays readable for 10 minutes
        poll_interval=0.5,
        variables={"topic": topic, "progress": 0.0},
    )
    job = asyncio.create_task(_work(ctx, step_seconds))
    _background.add(job)
    job.add_done_callback(_background.discard)
    return ctx.task_id


async def _work(ctx: TaskContext, step_seconds: float) -> None:
    # `async with`: an exception fails the task and cancellation cancels it,
    # so the caller never waits on a task nobody is working on.
    async with ctx:
        topic = ctx.get("topic", type=str)
        sections: list[str] = []
        for step in range(1, STEPS + 1):
            await asyncio.sleep(step_seconds)  # stands in for the real work
            sections.append(f"section {step} about {topic}")
            await ctx.set("progress", step / STEPS)
        await ctx.complete({"title": f"Report on {topic}", "sections": sections})


async def demo(client: AsyncTaskClient, topic: str = "taskstate") -> Task:
    """What a caller does: start the tool, then follow the task to its end."""
    task_id = await make_report(client, topic)
    print(f"tool returned task {task_id}")
    last: Task | None = None
    async for task in client.watch(task_id):
        progress: Any = task.variables.get("progress")
        print(f"  v{task.version} {task.status.value:<10} progress={progress}")
        last = task
    assert last is not None  # watch always ends with the terminal version
    print(f"result: {last.result}")
    return last


async def main() -> None:
    async with AsyncTaskClient() as client:  # TASKSTATE_ADDRESS / TASKSTATE_TOKEN
        await demo(client)


if __name__ == "__main__":
    asyncio.run(main())
