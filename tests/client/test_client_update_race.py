"""update() under real contention: separate OS processes, one counter, no lost increments."""

from __future__ import annotations

import multiprocessing
import os
import sys

import pytest
from _harness import ServerProcess
from taskstate_client import TaskClient

sys.path.insert(0, os.path.dirname(__file__))
from _client_race_worker import increment

PROCESSES = 8
INCREMENTS = 25


@pytest.mark.slow
def test_concurrent_processes_lose_no_update(live_server: ServerProcess, owner: str) -> None:
    token = live_server.token(owner)
    with TaskClient(live_server.address, token=token) as client:
        task = client.create(variables={"counter": 0})
        ctx = multiprocessing.get_context("spawn")  # grpc and fork do not mix
        barrier = ctx.Barrier(PROCESSES)
        results = ctx.Queue()
        procs = [
            ctx.Process(
                target=increment,
                args=(live_server.address, token, task.task_id, INCREMENTS, barrier, results),
            )
            for _ in range(PROCESSES)
        ]
        for p in procs:
            p.start()
        attempts = [results.get(timeout=240) for _ in procs]
        for p in procs:
            p.join(60)
        assert all(isinstance(a, int) for a in attempts), attempts
        assert [p.exitcode for p in procs] == [0] * PROCESSES
        final = client.get(task.task_id)
    assert final.variables["counter"] == PROCESSES * INCREMENTS
    # One write per increment: no lost and no doubled updates.
    assert final.version == 1 + PROCESSES * INCREMENTS
    assert sum(attempts) >= PROCESSES * INCREMENTS
    print(f"attempts: {sum(attempts)} for {PROCESSES * INCREMENTS} increments")
