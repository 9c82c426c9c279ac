"""Cross-language relay: one task handed from language to language through one server.

Every leg is a request to that language's conformance driver (tests/_drivers.py), so each step
goes through the language's idiomatic client:

1. Python creates the task (request_method ``relay/<unique>``, variables ``{"origin": "python"}``)
   and starts a ``wait`` on it right away;
2. Go, whose WatchTasks stream (status ``working``) was open before the create, lists the tasks,
   takes events until the task appears and claims it with ``put_if_version`` at the version it
   saw (``claimed_by: "go"``, status message ``claimed by go``);
3. TypeScript sets two variables;
4. Java merges ``{"java": true}`` with its CAS ``update``;
5. Rust reads the task and completes it with a result built from the variables the others wrote;
6. Python's pending ``wait`` returns the completed task.

Each leg's answer and the task as Python reads it in between are asserted, including the version
sequence (create 1, claim 2, set variables 3, Java 4, complete 5). The drivers are built once
per session; a failed build FAILS the test. When it fails, every driver's stderr is printed.
"""

from __future__ import annotations

import asyncio
import uuid
from contextlib import AsyncExitStack
from typing import Any, NoReturn

import pytest
from _drivers import running_driver
from _harness import ServerProcess
from conformance.engine.driver import DriverProcess, Target

WAIT_MS = 120_000  # Python's wait for the completed task
CALL_WITHIN = 60.0  # how long the test waits for one driver answer
EVENTS_WITHIN = 30.0  # how long Go waits for the task's event
LEGS = ("python", "go", "typescript", "java", "rust")


class Relay:
    """The running drivers and the server target; fail() reports every driver's stderr."""

    def __init__(self, drivers: dict[str, DriverProcess], target: Target) -> None:
        self.drivers = drivers
        self.target = target

    def fail(self, message: str) -> NoReturn:
        tails = "\n".join(d.stderr_tail() for d in self.drivers.values())
        pytest.fail(f"{message}\n\n{tails}", pytrace=False)

    async def ok(self, lang: str, op: str, args: dict[str, Any], target: bool = True) -> Any:
        """One request that must succeed; its ok value."""
        outcome = await self.drivers[lang].call(
            op, self.target if target else None, args, CALL_WITHIN
        )
        if not outcome.ok:
            self.fail(f"{lang} {op} {args} failed: {outcome.value}")
        return outcome.value

    def check(self, task: dict[str, Any], step: str, **expected: Any) -> None:
        actual = {key: task.get(key, "<absent>") for key in expected}
        if actual != expected:
            self.fail(f"after {step}: task has {actual}, expected {expected}\ntask: {task}")


async def go_claims(relay: Relay, task_id: str, stream: str) -> dict[str, Any]:
    """The Go worker: list, then take events until the task appears; claim it at that version."""
    page = await relay.ok("go", "list", {"statuses": ["working"], "page_size": 100})
    seen = {t["task_id"]: t for t in page["tasks"]}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + EVENTS_WITHIN
    while True:
        try:
            event = await asyncio.wait_for(
                relay.ok("go", "watch_all_next", {"stream": stream}, target=False),
                max(deadline - loop.time(), 0.0),
            )
        except TimeoutError:
            relay.fail(f"go's WatchTasks stream gave no event for {task_id} in {EVENTS_WITHIN}s")
        if "task" not in event:
            relay.fail(f"go's WatchTasks stream ended before the task appeared: {event}")
        if event["task"]["task_id"] == task_id:
            seen[task_id] = event["task"]
            break
    await relay.ok("go", "watch_all_close", {"stream": stream}, target=False)
    task = seen[task_id]
    return await relay.ok(
        "go",
        "put_if_version",
        {
            "task_id": task_id,
            "expected_version": task["version"],
            "task": {
                "variables": {**task["variables"], "claimed_by": "go"},
                "status_message": "claimed by go",
            },
        },
    )


@pytest.mark.timeout(1200)
async def test_relay_across_languages(store_name: str, server_factory: Any) -> None:
    server: ServerProcess = server_factory(store_name)
    target = Target(server.address, server.token(server.fresh_owner()))
    method = f"relay/{uuid.uuid4().hex}"
    async with AsyncExitStack() as stack:
        drivers = {lang: await stack.enter_async_context(running_driver(lang)) for lang in LEGS}
        relay = Relay(drivers, target)
        stream = f"relay-{uuid.uuid4().hex}"
        await relay.ok("go", "watch_all_open", {"stream": stream, "statuses": ["working"]})

        # 1. Python creates the task and starts waiting for its end.
        variables: dict[str, Any] = {"origin": "python"}
        task = await relay.ok(
            "python", "create", {"request_method": method, "variables": variables}
        )
        relay.check(task, "create", version=1, status="working", request_method=method)
        relay.check(task, "create", variables=variables)
        task_id = task["task_id"]
        waiting = drivers["python"].submit(
            "wait", target, {"task_id": task_id, "timeout_ms": WAIT_MS}
        )

        # 2. Go claims it at the version its list or its watch delivered.
        variables["claimed_by"] = "go"
        claimed = await go_claims(relay, task_id, stream)
        relay.check(claimed, "the Go claim", task_id=task_id, version=2)
        got = await relay.ok("python", "get", {"task_id": task_id})
        relay.check(got, "the Go claim", version=2, status="working")
        relay.check(got, "the Go claim", status_message="claimed by go", variables=variables)

        # 3. TypeScript sets variables.
        ts_vars = {"ts_note": "set by typescript", "ts_count": 2}
        variables.update(ts_vars)
        done_ts = await relay.ok(
            "typescript", "set_variables", {"task_id": task_id, "variables": ts_vars}
        )
        relay.check(done_ts, "the TypeScript step", version=3)
        got = await relay.ok("python", "get", {"task_id": task_id})
        relay.check(got, "the TypeScript step", version=3, status="working")
        relay.check(got, "the TypeScript step", status_message="claimed by go", variables=variables)

        # 4. Java merges a variable through its CAS helper.
        variables["java"] = True
        merged = await relay.ok(
            "java", "update", {"task_id": task_id, "fn": {"merge": {"java": True}}}
        )
        relay.check(merged, "the Java update", version=4, variables=variables)
        if waiting.done():
            relay.fail(f"Python's wait returned before the completion: {waiting.result()}")

        # 5. Rust completes it with a result built from the variables.
        current = await relay.ok("rust", "get", {"task_id": task_id})
        result = {
            "completed_by": "rust",
            "claimed_by": current["variables"]["claimed_by"],
            "ts_note": current["variables"]["ts_note"],
        }
        completed = await relay.ok(
            "rust",
            "complete",
            {"task_id": task_id, "result": result, "expected_version": current["version"]},
        )
        relay.check(completed, "the Rust completion", version=5, status="completed")

        # 6. Python's wait returns the completed task.
        answer = await asyncio.wait_for(waiting, WAIT_MS / 1000 + 10)
        if "ok" not in answer:
            relay.fail(f"Python's wait answered {answer}")
        done = answer["ok"]
        expected = {
            "task_id": task_id,
            "version": 5,
            "status": "completed",
            "request_method": method,
            "result": result,
            "variables": variables,
            "error": "<absent>",
        }
        relay.check(done, "the Rust completion (as Python's wait returned it)", **expected)
        again = await relay.ok("python", "get", {"task_id": task_id})
        if again != done:
            relay.fail(f"GetTask after the wait gives {again}, the wait gave {done}")
