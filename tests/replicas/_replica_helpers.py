"""Helpers for the multi-replica tests: worker processes, stream collectors, health polling."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
from _harness import Outcome, outcome_from_error
from google.protobuf import json_format, struct_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

WORKER = Path(__file__).with_name("_replica_worker.py")

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def value(py: Any) -> struct_pb2.Value:
    return json_format.ParseDict(py, struct_pb2.Value())


def run_workers(
    jobs: list[tuple[str, str, list[str]]], limit: float = 600
) -> tuple[list[dict[str, Any]], float]:
    """One process per (address, token, args) job; all connect, then all start together.

    Returns (their reports, seconds from the start signal until the last one finished).
    """
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), address, token, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for address, token, args in jobs
    ]
    try:
        for p in procs:  # every worker is connected before any starts
            assert p.stdout is not None
            line = p.stdout.readline()
            if line.strip() != "ready":
                p.kill()
                _, err = p.communicate()
                raise AssertionError(f"worker failed to start: {line!r}\n{err}")
        started = time.monotonic()
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        reports = []
        deadline = started + limit
        for p in procs:
            out, err = p.communicate(timeout=max(1.0, deadline - time.monotonic()))
            assert p.returncode == 0, f"worker failed ({p.returncode}):\n{err}"
            reports.append(json.loads(out.strip().splitlines()[-1]))
        return reports, time.monotonic() - started
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


class StreamCollector:
    """Reads an aio server stream in the background; messages go to a list and a queue."""

    def __init__(self, call: Any) -> None:
        self.call = call
        self.messages: list[Any] = []
        self.outcome: Outcome | None = None
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._ended = asyncio.Event()
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        try:
            async for msg in self.call:
                self.messages.append(msg)
                self._queue.put_nowait(msg)
            self.outcome = Outcome(code=grpc.StatusCode.OK)
        except grpc.aio.AioRpcError as err:
            self.outcome = outcome_from_error(err)
        except asyncio.CancelledError:
            self.outcome = Outcome(code=grpc.StatusCode.CANCELLED)
        finally:
            self._ended.set()

    async def until_version(self, version: int, within: float = 20.0) -> Any:
        """Waits (bounded) for a message whose task has ``version``; returns it."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            for msg in self.messages:
                if msg.task.version >= version:
                    return msg
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0 or self._ended.is_set() and self._queue.empty():
                raise AssertionError(
                    f"no version {version} within {within}s; got "
                    f"{[m.task.version for m in self.messages]}, outcome "
                    f"{self.outcome.describe() if self.outcome else 'still open'}"
                )
            getter = asyncio.ensure_future(self._queue.get())
            ended = asyncio.ensure_future(self._ended.wait())
            await asyncio.wait({getter, ended}, timeout=remaining, return_when="FIRST_COMPLETED")
            getter.cancel()
            ended.cancel()

    async def end(self, within: float = 20.0) -> Outcome:
        """Waits (bounded) for the stream to end; returns how it ended."""
        try:
            await asyncio.wait_for(self._ended.wait(), within)
        except TimeoutError:
            raise AssertionError(
                f"stream still open after {within}s; got {[m.task.version for m in self.messages]}"
            ) from None
        assert self.outcome is not None
        return self.outcome

    async def close(self) -> None:
        self.call.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def health_status(address: str, timeout: float = 3.0) -> int | None:
    """grpc.health.v1 Check of the whole server; None if the call itself failed."""
    async with grpc.aio.insecure_channel(address) as channel:
        try:
            resp = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=timeout
            )
        except grpc.aio.AioRpcError:
            return None
        return int(resp.status)


async def poll_health(address: str, want: int, within: float) -> float:
    """Bounded polling of the health service until it says ``want``; returns seconds taken."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    seen: list[int | None] = []
    while True:
        status = await health_status(address)
        if not seen or seen[-1] != status:
            seen.append(status)
        if status == want:
            return loop.time() - started
        if loop.time() - started > within:
            raise AssertionError(
                f"health never said {health_pb2.HealthCheckResponse.ServingStatus.Name(want)} "
                f"within {within}s (saw {seen})"
            )
        await asyncio.sleep(0.1)
