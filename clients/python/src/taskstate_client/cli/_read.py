"""Commands that read: get, list, wait, watch, watch-all."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from taskstate_client._sync_client import TaskClient
from taskstate_client.cli._args import duration_arg, positive_int, status_arg, view_arg
from taskstate_client.cli._output import Output, task_dict
from taskstate_client.cli._usage import EXIT_OK, EXIT_WAIT_TIMEOUT
from taskstate_client.models import TaskStatus, TaskView

Parents = list[argparse.ArgumentParser]


def register(sub: Any, parents: Parents, wait_parents: Parents) -> None:
    p = sub.add_parser("get", parents=parents, help="print a task")
    p.add_argument("task_id", metavar="ID")
    p.set_defaults(run=_get)

    p = sub.add_parser("list", parents=parents, help="list your tasks, newest first")
    _status_filter(p, "filter")
    p.add_argument("--page-size", type=positive_int, default=0, help="tasks per page")
    p.add_argument("--page-token", default="", help="continue from a previous page")
    p.add_argument("--all", action="store_true", help="follow every page")
    _view(p)
    p.set_defaults(run=_list)

    p = sub.add_parser(
        "wait", parents=wait_parents, help="wait until a task reaches a status (default: terminal)"
    )
    p.add_argument("task_id", metavar="ID")
    p.add_argument(
        "--timeout",
        dest="wait_timeout",
        type=duration_arg,
        help="give up after this long (exit 3); default: wait as long as it takes",
    )
    _status_filter(p, "target")
    p.set_defaults(run=_wait)

    p = sub.add_parser(
        "watch", parents=parents, help="print one JSON line per new version until terminal"
    )
    p.add_argument("task_id", metavar="ID")
    p.add_argument("--after-version", type=positive_int, default=0, help="skip up to here")
    p.set_defaults(run=_watch)

    p = sub.add_parser(
        "watch-all",
        parents=parents,
        help="print one JSON line per change to any of your tasks "
        "(stderr says when the watch is registered)",
    )
    _status_filter(p, "only changes that land in these statuses")
    p.add_argument(
        "--count", type=positive_int, default=0, metavar="N", help="exit after N changes"
    )
    _view(p)
    p.add_argument(
        "--resume",
        nargs="?",
        const="",
        default=None,
        metavar="CURSOR",
        help="print events (write, deleted, expired, reset) with their cursor, from CURSOR "
        "(or now), surviving outages and compaction",
    )
    p.set_defaults(run=_watch_all)


def _status_filter(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--status", type=status_arg, action="append", default=[], help=f"{what} (repeatable)"
    )


def _view(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--view",
        type=view_arg,
        default=TaskView.FULL,
        metavar="VIEW",
        help="full (default) or basic: without variables, result and error",
    )


def _get(client: TaskClient, args: argparse.Namespace, out: Output) -> int:
    out.task(client.get(args.task_id))
    return EXIT_OK


def _list(client: TaskClient, args: argparse.Namespace, out: Output) -> int:
    statuses = args.status or None
    if args.all:
        tasks = list(client.iter_tasks(statuses=statuses, page_size=args.page_size, view=args.view))
        token = ""
    else:
        page = client.list(
            page_size=args.page_size,
            page_token=args.page_token,
            statuses=statuses,
            view=args.view,
        )
        tasks, token = page.tasks, page.next_page_token
    if out.compact:
        dicts = [task_dict(t, args.view) for t in tasks]
        out.json({"tasks": dicts, "next_page_token": token})
        return EXIT_OK
    out.table(tasks)
    if token:
        print(f"more: --page-token {token}", file=sys.stderr)
    return EXIT_OK


def _wait(client: TaskClient, args: argparse.Namespace, out: Output) -> int:
    targets: list[TaskStatus] = args.status
    task = client.wait(args.task_id, args.wait_timeout, statuses=targets or None)
    out.task(task)
    reached = task.status in targets if targets else task.terminal
    return EXIT_OK if reached else EXIT_WAIT_TIMEOUT


def _watch(client: TaskClient, args: argparse.Namespace, out: Output) -> int:
    for task in client.watch(args.task_id, args.after_version):
        out.event(task)
    return EXIT_OK


def _watch_all(client: TaskClient, args: argparse.Namespace, out: Output) -> int:
    if args.resume is not None:
        return _watch_events(client, args, out)
    with client.watch_all(statuses=args.status or None, view=args.view) as stream:
        # Only now is the watch registered: a script may start its writers after this line.
        print("taskstate: watching (Ctrl-C stops)", file=sys.stderr, flush=True)
        for seen, task in enumerate(stream, start=1):
            out.event(task, args.view)
            if seen == args.count:
                break
    return EXIT_OK


def _watch_events(client: TaskClient, args: argparse.Namespace, out: Output) -> int:
    events = client.watch_all(
        statuses=args.status or None, view=args.view, resume=True, cursor=args.resume
    )
    try:
        for seen, event in enumerate(events, start=1):
            line: dict[str, Any] = {
                "kind": event.kind.value,
                "task_id": event.task_id,
                "version": event.version,
                "cursor": event.cursor,
            }
            if event.task is not None:
                line["task"] = task_dict(event.task, args.view)
            out.json(line, compact=True)
            if seen == args.count:
                break
    finally:
        events.close()
    return EXIT_OK
