"""A worker process for the lease fault test (run as a script, never imported).

    python _lease_worker.py ADDRESS TOKEN WORKER_ID LEASE_MS [HOLD_AT]

Raw stubs, not a client library: this tests the server. Prints ``ready``, waits for a line on
stdin, then claims the oldest offered task (any method) through ADDRESS, again and again: sets a
progress variable and completes it, every write carrying its fencing token, while a thread
renews the lease every third of it. One JSON line per event on stdout:

    {"ev": "claimed", "task": ID, "token": N, "attempt": N}
    {"ev": "completed", "task": ID}                 CompleteTask succeeded
    {"ev": "refused", "task": ID, "op": OP, "code": CODE, "reason": REASON}
    {"ev": "holding", "task": ID, "token": N}       the HOLD_AT-th claim: the worker now waits
                                                    for one stdin line before its writes (the
                                                    test SIGSTOPs or kills it meanwhile)
    {"ev": "renew_refused", "task": ID, "reason": REASON}

A ``stop`` line on stdin (read by a thread) ends the loop after the current task; ``late``
releases a holding worker.
"""

from __future__ import annotations

import json
import sys
import threading

import grpc
from google.protobuf import duration_pb2, struct_pb2
from google.rpc import error_details_pb2, status_pb2
from taskstate.v1 import taskstate_pb2 as pb
from taskstate.v1 import taskstate_pb2_grpc as pb_grpc

CALL_TIMEOUT_S = 30.0
CLAIM_WAIT_S = 1


def say(**event: object) -> None:
    print(json.dumps(event), flush=True)


def reason_of(err: grpc.RpcError) -> str | None:
    for key, value in err.trailing_metadata() or ():  # type: ignore[attr-defined]
        if key == "grpc-status-details-bin":
            for detail in status_pb2.Status.FromString(value).details:
                if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                    info = error_details_pb2.ErrorInfo()
                    detail.Unpack(info)
                    return info.reason
    return None


class Heartbeat(threading.Thread):
    """Renews one lease every third of its duration until stopped or refused."""

    def __init__(self, stub: pb_grpc.TaskServiceStub, md: tuple, task: pb.Task, lease_s: float):
        super().__init__(daemon=True)
        self.stub, self.md, self.task, self.lease_s = stub, md, task, lease_s
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.lease_s / 3):
            try:
                self.stub.RenewLease(
                    pb.RenewLeaseRequest(
                        task_id=self.task.task_id, fencing_token=self.task.lease.fencing_token
                    ),
                    metadata=self.md,
                    timeout=self.lease_s,
                )
            except grpc.RpcError as err:
                if err.code() == grpc.StatusCode.DEADLINE_EXCEEDED:  # type: ignore[attr-defined]
                    continue
                say(ev="renew_refused", task=self.task.task_id, reason=reason_of(err))
                return


def progress(task: pb.Task, worker_id: str) -> pb.SetVariablesRequest:
    return pb.SetVariablesRequest(
        task_id=task.task_id,
        variables={"worker": struct_pb2.Value(string_value=worker_id)},
        fencing_token=task.lease.fencing_token,
    )


def completion(task: pb.Task, worker_id: str) -> pb.CompleteTaskRequest:
    return pb.CompleteTaskRequest(
        task_id=task.task_id,
        status=pb.TASK_STATUS_COMPLETED,
        result=struct_pb2.Value(string_value=worker_id),
        fencing_token=task.lease.fencing_token,
    )


def main() -> None:
    address, token, worker_id, lease_ms, *rest = sys.argv[1:]
    hold_at = int(rest[0]) if rest else 0
    lease_s = int(lease_ms) / 1000
    md = (("authorization", f"Bearer {token}"),)
    channel = grpc.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)])
    grpc.channel_ready_future(channel).result(timeout=30)
    stub = pb_grpc.TaskServiceStub(channel)
    print("ready", flush=True)
    sys.stdin.readline()
    lines: list[str] = []
    got_line = threading.Condition()

    def read_stdin() -> None:
        for line in sys.stdin:
            with got_line:
                lines.append(line.strip())
                got_line.notify_all()

    threading.Thread(target=read_stdin, daemon=True).start()
    lease = duration_pb2.Duration(seconds=int(lease_s), nanos=int(lease_s % 1 * 1e9))
    claims = 0
    while "stop" not in lines:
        response = stub.ClaimTask(
            pb.ClaimTaskRequest(
                worker_id=worker_id,
                lease_duration=lease,
                wait_timeout=duration_pb2.Duration(seconds=CLAIM_WAIT_S),
            ),
            metadata=md,
            timeout=CALL_TIMEOUT_S,
        )
        if not response.HasField("task"):
            continue
        task = response.task
        claims += 1
        say(ev="claimed", task=task.task_id, token=task.lease.fencing_token, attempt=task.attempt)
        heartbeat = Heartbeat(stub, md, task, lease_s)
        heartbeat.start()
        if claims == hold_at:
            say(ev="holding", task=task.task_id, token=task.lease.fencing_token)
            with got_line:  # the test stops (or kills) us, then lets us go on
                got_line.wait_for(lambda: "late" in lines)
            # Woken after our lease ended: the heartbeat's next renewal is refused, and only
            # then come the late writes (an order the test can assert).
            heartbeat.join(timeout=CALL_TIMEOUT_S)
        writes = (
            ("SetVariables", stub.SetVariables, progress(task, worker_id)),
            ("CompleteTask", stub.CompleteTask, completion(task, worker_id)),
        )
        completed = False
        for op, call, request in writes:  # both are tried: a refusal is reported, not retried
            try:
                call(request, metadata=md, timeout=CALL_TIMEOUT_S)
                completed = op == "CompleteTask"
            except grpc.RpcError as err:
                code = err.code().name  # type: ignore[attr-defined]
                say(ev="refused", task=task.task_id, op=op, code=code, reason=reason_of(err))
        if completed:
            say(ev="completed", task=task.task_id)
        heartbeat.stopped.set()
        heartbeat.join()
    channel.close()


if __name__ == "__main__":
    main()
