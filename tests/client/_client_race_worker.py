"""Runs in separate OS processes (spawn): increments one counter through update()."""

from __future__ import annotations

from typing import Any

from taskstate_client import TaskClient


def increment(
    address: str, token: str, task_id: str, times: int, barrier: Any, results: Any
) -> None:
    attempts = 0

    def bump(variables: dict[str, Any]) -> None:
        nonlocal attempts
        attempts += 1
        variables["counter"] = variables.get("counter", 0) + 1

    try:
        with TaskClient.connect(address, token=token) as client:
            # Everyone connected: start together, for real contention. Spawning 8 interpreters
            # that import grpc took over 60 s on a loaded 2-core machine; the parent waits 240 s.
            barrier.wait(240)
            for _ in range(times):
                client.update(task_id, bump)
    except BaseException as exc:  # reported, so the parent fails fast instead of waiting
        results.put(repr(exc))
        raise
    results.put(attempts)
