"""A separate OS process for the multi-replica races (run as a script, never imported).

    python _replica_worker.py ADDRESS TOKEN MODE [ARGS...]

Connects, prints ``ready``, waits for one line on stdin (the start signal, so that every
worker of every replica starts at once), runs MODE, and prints one JSON line:

    incr TASK_ID N   N read-modify-write increments of variable "counter": GetTask, then
                     PutIfVersion at the version read; ABORTED -> read again and retry, after
                     a "full jitter" backoff (as taskstate_client's update() does), which keeps
                     16 contending clients from wasting most of their round trips.
                     Reports {"aborted": retries, "seconds": wall time}.
    create N         N CreateTask calls all at once, each on its own channel (and its own
                     TCP connection). Reports {"created": [task ids], "errors": [[code, reason]]}.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time

import grpc
import grpc.aio
from google.protobuf import field_mask_pb2, struct_pb2
from google.rpc import error_details_pb2, status_pb2
from taskstate.v1 import taskstate_pb2 as pb
from taskstate.v1 import taskstate_pb2_grpc as pb_grpc

CALL_TIMEOUT_S = 30.0
# A channel of its own really is a connection of its own (not a shared global subchannel).
OWN_CONNECTION = [("grpc.use_local_subchannel_pool", 1)]
BACKOFF_START_S = 0.001
BACKOFF_MAX_S = 0.02
# The backoff window also grows to this many round trips: on a slow store (DynamoDB Local on a
# busy machine) a fixed 20 ms window lets 16 clients collide on almost every attempt.
BACKOFF_ROUND_TRIPS = 8


def wait_for_go() -> None:
    print("ready", flush=True)
    sys.stdin.readline()


def reason_of(err: grpc.aio.AioRpcError | grpc.Call) -> str | None:
    """The ErrorInfo reason of a failed call (sync or asyncio), None if it has none."""
    for key, value in err.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            for detail in status_pb2.Status.FromString(value).details:
                if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                    info = error_details_pb2.ErrorInfo()
                    detail.Unpack(info)
                    return info.reason
    return None


def incr(address: str, md: tuple[tuple[str, str], ...], task_id: str, n: int) -> dict:
    channel = grpc.insecure_channel(address, options=OWN_CONNECTION)
    grpc.channel_ready_future(channel).result(timeout=30)
    stub = pb_grpc.TaskServiceStub(channel)
    mask = field_mask_pb2.FieldMask(paths=["variables"])
    wait_for_go()
    started = time.monotonic()
    aborted = 0
    for _ in range(n):
        cap = BACKOFF_START_S
        while True:
            attempt_started = time.monotonic()
            task = stub.GetTask(
                pb.GetTaskRequest(task_id=task_id), metadata=md, timeout=CALL_TIMEOUT_S
            ).task
            current = task.variables["counter"].number_value
            new = pb.Task()
            new.variables["counter"].CopyFrom(struct_pb2.Value(number_value=current + 1))
            try:
                stub.PutIfVersion(
                    pb.PutIfVersionRequest(
                        task_id=task_id, expected_version=task.version, task=new, update_mask=mask
                    ),
                    metadata=md,
                    timeout=CALL_TIMEOUT_S,
                )
                break
            except grpc.RpcError as err:
                if err.code() != grpc.StatusCode.ABORTED:
                    raise
                aborted += 1
                time.sleep(random.uniform(0, cap))  # retry policy, not a synchronisation
                round_trip = time.monotonic() - attempt_started
                cap = min(cap * 2, max(BACKOFF_MAX_S, BACKOFF_ROUND_TRIPS * round_trip))
    seconds = time.monotonic() - started
    channel.close()
    return {"aborted": aborted, "seconds": seconds}


async def create(address: str, md: tuple[tuple[str, str], ...], n: int) -> dict:
    channels = [grpc.aio.insecure_channel(address, options=OWN_CONNECTION) for _ in range(n)]
    await asyncio.wait_for(asyncio.gather(*(ch.channel_ready() for ch in channels)), 30)
    stubs = [pb_grpc.TaskServiceStub(ch) for ch in channels]
    await asyncio.to_thread(wait_for_go)
    created: list[str] = []
    errors: list[list[str | None]] = []

    async def one(stub: pb_grpc.TaskServiceStub) -> None:
        try:
            resp = await stub.CreateTask(
                pb.CreateTaskRequest(), metadata=md, timeout=CALL_TIMEOUT_S
            )
            created.append(resp.task.task_id)
        except grpc.aio.AioRpcError as err:
            errors.append([err.code().name, reason_of(err)])

    await asyncio.gather(*(one(s) for s in stubs))
    for ch in channels:
        await ch.close()
    return {"created": created, "errors": errors}


def main() -> None:
    address, token, mode, *args = sys.argv[1:]
    md = (("authorization", f"Bearer {token}"),)
    if mode == "incr":
        report = incr(address, md, args[0], int(args[1]))
    elif mode == "create":
        report = asyncio.run(create(address, md, int(args[0])))
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
