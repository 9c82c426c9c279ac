"""Commands for leases: claim and renew (a worker in a shell script, or a person debugging one)."""

from __future__ import annotations

import argparse
from typing import Any

from taskstate_client._lease import default_worker_id
from taskstate_client._sync_client import TaskClient
from taskstate_client.cli._args import duration_arg, positive_int
from taskstate_client.cli._output import Output
from taskstate_client.cli._usage import EXIT_OK, EXIT_WAIT_TIMEOUT

Parents = list[argparse.ArgumentParser]


def register(sub: Any, parents: Parents) -> None:
    p = sub.add_parser(
        "claim",
        parents=parents,
        help="lease a task (by ID, or the oldest claimable one); exit 3 when none",
    )
    p.add_argument("task_id", metavar="ID", nargs="?", default=None)
    p.add_argument("--worker-id", default=None, help="default: host:pid:random")
    p.add_argument("--lease", type=duration_arg, default=None, help="default: the server's")
    p.add_argument("--method", default=None, help="without ID: only tasks of this method")
    p.add_argument("--wait", type=duration_arg, default=None, help="without ID: wait for one")
    p.set_defaults(run=_claim)

    p = sub.add_parser("renew", parents=parents, help="renew a lease you hold (a heartbeat)")
    p.add_argument("task_id", metavar="ID")
    p.add_argument("fencing_token", type=positive_int, metavar="TOKEN")
    p.add_argument("--lease", type=duration_arg, default=None, help="default: as last asked")
    p.add_argument("--message", default=None, help="status message, in the same write")
    p.set_defaults(run=_renew)


def _claim(client: TaskClient, args: argparse.Namespace, out: Output) -> int:
    task = client.claim(
        args.task_id,
        worker_id=args.worker_id or default_worker_id(),
        lease=args.lease,
        request_method=args.method,
        wait=args.wait,
    )
    if task is None:
        return EXIT_WAIT_TIMEOUT
    out.task(task)
    return EXIT_OK


def _renew(client: TaskClient, args: argparse.Namespace, out: Output) -> int:
    out.task(
        client.renew_lease(
            args.task_id, args.fencing_token, lease=args.lease, status_message=args.message
        )
    )
    return EXIT_OK
