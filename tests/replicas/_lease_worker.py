"""A worker process for the lease fault test (run as a script, never imported).

    python _lease_worker.py ADDRESS TOKEN WORKER_ID LEASE_MS CALL_TIMEOUT_S [HOLD_AT]

Raw stubs, not a client library: this tests the server. Prints ``ready``, waits for a line on
stdin, then claims the oldest offered task (any method) through ADDRESS, again and again: sets a
progress variable and completes it, every write carrying its fencing token, while a thread
renews the lease every quarter of it. One JSON line per event on stdout:

    {"ev": "claimed", "task": ID, "token": N, "attempt": N, "version": N}
    {"ev": "holding", "task": ID, "token": N, "attempt": N, "version": N}
                                                    the HOLD_AT-th claim: the worker now waits
                                                    for a ``late`` line before its writes (the
                                                    test SIGSTOPs or kills it meanwhile)
    {"ev": "renew_refused", "task": ID, "code": CODE, "reason": REASON}
    {"ev": "refused", "task": ID, "op": OP, "code": CODE, "reason": REASON}
    {"ev": "completed", "task": ID}                 CompleteTask succeeded

A ``stop`` line on stdin (read by a thread) ends the loop after the current task. SIGUSR1 dumps
every thread's stack to stderr (the test asks for it when the worker does not report in time).
"""

from __future__ import annotations

import faulthandler
import json
import signal
import sys
import threading

import grpc
from _replica_worker import OWN_CONNECTION, reason_of, wait_for_go
from google.protobuf import duration_pb2, struct_pb2
from taskstate.v1 import taskstate_pb2 as pb
from taskstate.v1 import taskstate_pb2_grpc as pb_grpc

CLAIM_WAIT_S = 1
HEARTBEATS_PER_LEASE = 4

_say_lock = threading.Lock()


def say(**event: object) -> None:
    """One whole line per event. The heartbeat thread and the main thread both report, and
    print() writes the text and its newline separately: unlocked, two events could share a
    line, and the test could not read that worker's stream any further."""
    line = json.dumps(event) + "\n"
    with _say_lock:
        sys.stdout.write(line)
        sys.stdout.flush()


class Heartbeat(threading.Thread):
    """Renews one lease every quarter of its duration until stopped or refused.

    Each renewal may take half the lease (a busy machine); one that runs out of time is
    simply followed by the next, which still lands within the lease."""

    def __init__(self, stub: pb_grpc.TaskServiceStub, md: tuple, task: pb.Task, lease_s: float):
        super().__init__(daemon=True)
        self.stub, self.md, self.task, self.lease_s = stub, md, task, lease_s
        self.stopped = threading.Event()

    def run(self) -> None:
        request = pb.RenewLeaseRequest(
            task_id=self.task.task_id, fencing_token=self.task.lease.fencing_token
        )
        while not self.stopped.wait(self.lease_s / HEARTBEATS_PER_LEASE):
            try:
                self.stub.RenewLease(request, metadata=self.md, timeout=self.lease_s / 2)
            except grpc.RpcError as err:
                code = err.code()  # type: ignore[attr-defined]
                if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                    continue
                say(
                    ev="renew_refused",
                    task=self.task.task_id,
                    code=code.name,
                    reason=reason_of(err),
                )
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


class Commands:
    """The test's lines on stdin (``late``, ``stop``), read by a thread of their own."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.got = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in sys.stdin:
            with self.got:
                self.lines.append(line.strip())
                self.got.notify_all()

    def said(self, word: str) -> bool:
        with self.got:
            return word in self.lines

    def wait_for(self, word: str) -> None:
        with self.got:
            self.got.wait_for(lambda: word in self.lines)


def main() -> None:
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    address, token, worker_id, lease_ms, call_timeout, *rest = sys.argv[1:]
    call_s = float(call_timeout)
    hold_at = int(rest[0]) if rest else 0
    lease_s = int(lease_ms) / 1000
    md = (("authorization", f"Bearer {token}"),)
    channel = grpc.insecure_channel(address, options=OWN_CONNECTION)
    grpc.channel_ready_future(channel).result(timeout=call_s)
    stub = pb_grpc.TaskServiceStub(channel)
    wait_for_go()
    commands = Commands()
    lease = duration_pb2.Duration(seconds=int(lease_s), nanos=int(lease_s % 1 * 1e9))
    claims = 0
    while not commands.said("stop"):
        response = stub.ClaimTask(
            pb.ClaimTaskRequest(
                worker_id=worker_id,
                lease_duration=lease,
                wait_timeout=duration_pb2.Duration(seconds=CLAIM_WAIT_S),
            ),
            metadata=md,
            timeout=call_s,
        )
        if not response.HasField("task"):
            continue
        task = response.task
        claims += 1
        held = {"task": task.task_id, "token": task.lease.fencing_token}
        say(ev="claimed", **held, attempt=task.attempt, version=task.version)
        heartbeat = Heartbeat(stub, md, task, lease_s)
        heartbeat.start()
        if claims == hold_at:
            say(ev="holding", **held, attempt=task.attempt, version=task.version)
            commands.wait_for("late")  # the test stops (or kills) us, then lets us go on
            # Woken after our lease ended: the heartbeat's next renewal is refused, and only
            # then come the late writes (an order the test can assert).
            heartbeat.join(timeout=call_s)
            if heartbeat.is_alive():
                raise SystemExit(f"{worker_id}: the heartbeat of {task.task_id} was not refused")
        writes = (
            ("SetVariables", stub.SetVariables, progress(task, worker_id)),
            ("CompleteTask", stub.CompleteTask, completion(task, worker_id)),
        )
        completed = False
        for op, call, request in writes:  # both are tried: a refusal is reported, not retried
            try:
                call(request, metadata=md, timeout=call_s)
                completed = op == "CompleteTask"
            except grpc.RpcError as err:
                code = err.code().name  # type: ignore[attr-defined]
                say(ev="refused", task=task.task_id, op=op, code=code, reason=reason_of(err))
        heartbeat.stopped.set()
        heartbeat.join()
        if completed:
            say(ev="completed", task=task.task_id)
    channel.close()


if __name__ == "__main__":
    main()
