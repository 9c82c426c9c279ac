"""A separate OS process for the race tests (run as a script, never imported by pytest).

    python _race_worker.py ADDRESS TOKEN MODE [ARGS...]

Connects, prints ``ready``, waits for one line on stdin (the start signal, so that every
worker starts at once), runs MODE, and prints one JSON line with what happened:

    incr TASK_ID N      N read-modify-write increments of variable "counter" (GetTask +
                        PutIfVersion, retry on ABORTED)
    create N [RID]      N CreateTask calls (with request_id RID if given)
    complete TASK_ID    one CompleteTask
"""

from __future__ import annotations

import json
import sys

import grpc
from google.protobuf import field_mask_pb2, struct_pb2
from taskstate.v1 import taskstate_pb2 as pb
from taskstate.v1 import taskstate_pb2_grpc as pb_grpc


def main() -> None:
    address, token, mode, *args = sys.argv[1:]
    channel = grpc.insecure_channel(address)
    grpc.channel_ready_future(channel).result(timeout=30)
    stub = pb_grpc.TaskServiceStub(channel)
    md = (("authorization", f"Bearer {token}"),)
    print("ready", flush=True)
    sys.stdin.readline()
    report: dict[str, object] = {"codes": {}}

    def count(code: grpc.StatusCode) -> None:
        codes = report["codes"]
        codes[code.name] = codes.get(code.name, 0) + 1

    if mode == "incr":
        task_id, n = args[0], int(args[1])
        aborted = 0
        for _ in range(n):
            while True:
                task = stub.GetTask(pb.GetTaskRequest(task_id=task_id), metadata=md).task
                current = (
                    task.variables["counter"].number_value if "counter" in task.variables else 0
                )
                new = pb.Task()
                new.variables["counter"].CopyFrom(struct_pb2.Value(number_value=current + 1))
                try:
                    stub.PutIfVersion(
                        pb.PutIfVersionRequest(
                            task_id=task_id,
                            expected_version=task.version,
                            task=new,
                            update_mask=field_mask_pb2.FieldMask(paths=["variables"]),
                        ),
                        metadata=md,
                    )
                    break
                except grpc.RpcError as err:
                    if err.code() != grpc.StatusCode.ABORTED:
                        raise
                    aborted += 1
        report["aborted"] = aborted
    elif mode == "create":
        n = int(args[0])
        rid = args[1] if len(args) > 1 else ""
        created = []
        for _ in range(n):
            try:
                resp = stub.CreateTask(pb.CreateTaskRequest(request_id=rid), metadata=md)
                created.append(resp.task.task_id)
                count(grpc.StatusCode.OK)
            except grpc.RpcError as err:
                count(err.code())
        report["created"] = created
    elif mode == "complete":
        try:
            resp = stub.CompleteTask(
                pb.CompleteTaskRequest(
                    task_id=args[0],
                    status=pb.TASK_STATUS_COMPLETED,
                    result=struct_pb2.Value(string_value=token[-6:]),
                ),
                metadata=md,
            )
            report["version"] = resp.task.version
            count(grpc.StatusCode.OK)
        except grpc.RpcError as err:
            count(err.code())
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(json.dumps(report), flush=True)
    channel.close()


if __name__ == "__main__":
    main()
