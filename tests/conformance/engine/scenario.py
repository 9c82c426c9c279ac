"""Runs one scenario's steps through a driver: owners, handles, watch bookkeeping, timeouts.

Each step becomes one or more driver requests. The engine does everything that is not a client
call: it walks ``list`` pages for ``list_all``, fans ``update`` out ``parallel`` times, derives
``versions``/``statuses`` from a watch's tasks, collects WatchTasks events for
``watch_all_collect`` (remembering each stream's last cursor for ``watch_all_stop``), and keeps
``async`` operations as asyncio tasks until their ``await``.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .driver import DriverFailure, DriverProcess, Target
from .matchers import ABSENT, Outcome, check_expect, deep_eq, resolve_path, show
from .vectors import ScenarioError, load, parse_duration_ms, substitute

CALL_TIMEOUT = 30.0  # the drivers' deadline for every unary call
ANSWER_MARGIN = 15.0  # how much longer the engine waits for the driver to report it
STEP_TIMEOUT = 10.0  # await and watch_all_collect
MAX_PAGES = 1000
UNKNOWN_TOKEN = "conformance-unknown-token"
DURATION_ARGS = ("ttl", "poll_interval", "timeout", "lease", "wait")
SERVER_WAITS = ("timeout_ms", "wait_ms")  # the server may hold the call this long
EVENT_KINDS = ("write", "deleted", "expired", "progress")


@dataclass(frozen=True)
class Servers:
    """The two servers of a run and the bearer tokens of alice and bob (valid on both)."""

    main: str
    quota: str
    tokens: dict[str, str]

    def target(self, server: str, owner: str, subject: str | None = None) -> Target:
        address = self.quota if server == "quota" else self.main
        if owner == "anonymous":
            return Target(address, None, subject)
        if owner == "nobody":
            return Target(address, UNKNOWN_TOKEN, subject)
        return Target(address, self.tokens[owner], subject)


def driver_args(args: dict[str, Any]) -> dict[str, Any]:
    """Vector args -> driver args: durations become integer milliseconds in ``*_ms`` keys."""
    out: dict[str, Any] = {}
    for key, value in args.items():
        if key in DURATION_ARGS:
            out[f"{key}_ms"] = parse_duration_ms(value)
        elif key == "task" and isinstance(value, dict):
            out[key] = driver_args(value)
        else:
            out[key] = value
    return out


@dataclass
class Stream:
    """An open WatchTasks stream of a handle: the driver's name for it and its last cursor."""

    name: str
    cursor: str = ""  # resume_cursor of the last message the engine read ("" before any)


@dataclass
class ScenarioRun:
    """The state of one scenario: saved values, async handles and open WatchTasks streams."""

    driver: DriverProcess
    servers: Servers
    server: str = "main"
    saved: dict[str, Any] = field(default_factory=dict)
    background: dict[str, asyncio.Task[Outcome]] = field(default_factory=dict)
    streams: dict[str, Stream] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.saved["$unique"] = secrets.token_hex(8)

    async def run(self, doc: dict[str, Any]) -> None:
        """Runs every step; raises ScenarioError naming the step that failed."""
        try:
            for i, step in enumerate(doc["steps"]):
                try:
                    await self.run_step(step)
                except (ScenarioError, DriverFailure) as exc:
                    raise ScenarioError(f"step {i} ({step.get('op')}): {exc}") from exc
        finally:
            await self.close()

    async def run_step(self, step: dict[str, Any]) -> None:
        op = step["op"]
        owner = step.get("as", "alice")
        subject = substitute(step.get("subject"), self.saved, generators=True)
        args = substitute(step.get("args", {}), self.saved, generators=True)
        if "async" in step:
            handle = step["async"]
            if handle in self.background:
                raise ScenarioError(f"handle {handle!r} already used")
            self.background[handle] = asyncio.create_task(self.call(op, owner, args, subject))
            await asyncio.sleep(0)  # let it send its first request before the next step's
            return
        outcome = await self.call(op, owner, args, subject)
        check_expect(outcome, substitute(step.get("expect"), self.saved, generators=False))
        for name, path in (step.get("save") or {}).items():
            value = resolve_path(outcome.value, path)
            if value is ABSENT:
                raise ScenarioError(f"save {name}: path {path!r} is absent in {show(outcome)}")
            self.saved[name] = value

    async def call(
        self, op: str, owner: str, args: dict[str, Any], subject: str | None = None
    ) -> Outcome:
        special: dict[str, Callable[[Target, dict[str, Any]], Awaitable[Outcome]]] = {
            "list": self._list,
            "list_all": self._list_all,
            "update": self._update,
            "watch": self._watch,
            "watch_all_start": self._watch_all_start,
            "watch_all_collect": self._watch_all_collect,
            "watch_all_stop": self._watch_all_stop,
            "await": self._await,
        }
        target = self.servers.target(self.server, owner, subject)
        if op in special:
            return await special[op](target, args)
        return await self._request(op, target, driver_args(args))

    async def _request(self, op: str, target: Target, args: dict[str, Any]) -> Outcome:
        waits = sum(args.get(key, 0) for key in SERVER_WAITS) / 1000
        timeout = CALL_TIMEOUT + ANSWER_MARGIN + waits
        return await self.driver.call(op, target, args, timeout)

    # -- ops the engine composes -----------------------------------------------------------------

    async def _list(self, target: Target, args: dict[str, Any]) -> Outcome:
        outcome = await self._request("list", target, args)
        if outcome.ok:
            outcome.value["task_ids"] = [t["task_id"] for t in outcome.value["tasks"]]
        return outcome

    async def _list_all(self, target: Target, args: dict[str, Any]) -> Outcome:
        out: dict[str, Any] = {"task_ids": [], "statuses": [], "page_lens": []}
        token = ""
        for _ in range(MAX_PAGES):
            page = await self._request("list", target, {**args, "page_token": token})
            if not page.ok:
                return page
            if not token and "resume_cursor" in page.value:  # only a first page has one
                out["resume_cursor"] = page.value["resume_cursor"]
            tasks = page.value["tasks"]
            out["task_ids"] += [t["task_id"] for t in tasks]
            out["statuses"] += [t["status"] for t in tasks]
            out["page_lens"].append(len(tasks))
            token = page.value["next_page_token"]
            if not token:
                return Outcome(True, out)
        raise ScenarioError(f"list_all: still a next_page_token after {MAX_PAGES} pages")

    async def _update(self, target: Target, args: dict[str, Any]) -> Outcome:
        request = {k: v for k, v in args.items() if k != "parallel"}
        calls = [self._request("update", target, request) for _ in range(args.get("parallel", 1))]
        outcomes = await asyncio.gather(*calls)
        errors = [o for o in outcomes if not o.ok]
        return errors[0] if errors else max(outcomes, key=lambda o: o.value["version"])

    async def _watch(self, target: Target, args: dict[str, Any]) -> Outcome:
        outcome = await self._request("watch", target, args)
        if outcome.ok:
            tasks = outcome.value["tasks"]
            outcome.value["versions"] = [t["version"] for t in tasks]
            outcome.value["statuses"] = [t["status"] for t in tasks]
        return outcome

    async def _watch_all_start(self, target: Target, args: dict[str, Any]) -> Outcome:
        handle = args["handle"]
        if handle in self.streams:
            raise ScenarioError(f"handle {handle!r} already used")
        name = f"{self.saved['$unique']}-{handle}"
        request = {k: v for k, v in args.items() if k != "handle"}
        outcome = await self._request("watch_all_open", target, {**request, "stream": name})
        if outcome.ok:
            self.streams[handle] = Stream(name)
        return outcome

    async def _watch_all_collect(self, target: Target, args: dict[str, Any]) -> Outcome:
        """Reads the stream until an event matches ``until``; the stream stays open after."""
        stream = self._stream(args["handle"])
        wanted, until = set(args["task_ids"]), args["until"]
        events: list[dict[str, Any]] = []
        deadline = asyncio.get_running_loop().time() + STEP_TIMEOUT
        while True:
            left = deadline - asyncio.get_running_loop().time()
            future = self.driver.submit("watch_all_next", None, {"stream": stream.name})
            try:
                answer = await asyncio.wait_for(future, max(left, 0.0))
            except TimeoutError:
                raise ScenarioError(
                    f"timeout: no event matching {show(until)} in {show(events)}"
                ) from None
            next_outcome = _next_outcome(answer)
            if not next_outcome.ok:
                return next_outcome
            message = next_outcome.value
            if "end" in message:
                raise ScenarioError(
                    f"stream ended OK before an event matching {show(until)}: {show(events)}"
                )
            stream.cursor = message["resume_cursor"]
            event = _collected(message)
            if event is None or event["task_id"] not in wanted:
                continue
            events.append(event)
            if all(deep_eq(event.get(k, ABSENT), v) for k, v in until.items()):
                return Outcome(True, {"events": events})

    async def _watch_all_stop(self, target: Target, args: dict[str, Any]) -> Outcome:
        """Closes the stream: ``{"resume_cursor": the last message's}`` ("" if none was read)."""
        cursor = self._stream(args["handle"]).cursor
        await self._close_stream(args["handle"])
        return Outcome(True, {"resume_cursor": cursor})

    def _stream(self, handle: str) -> Stream:
        stream = self.streams.get(handle)
        if stream is None:
            raise ScenarioError(f"no open watch_all stream {handle!r}")
        return stream

    async def _await(self, target: Target, args: dict[str, Any]) -> Outcome:
        task = self.background.get(args["handle"])
        if task is None:
            raise ScenarioError(f"no async op {args['handle']!r}")
        try:
            return await asyncio.wait_for(asyncio.shield(task), STEP_TIMEOUT)
        except TimeoutError:
            raise ScenarioError(f"timeout: async op {args['handle']!r} still running") from None

    # -- the end of a scenario -------------------------------------------------------------------

    async def _close_stream(self, handle: str) -> None:
        stream = self.streams.pop(handle, None)
        if stream is not None:
            await self.driver.call(
                "watch_all_close", None, {"stream": stream.name}, CALL_TIMEOUT + ANSWER_MARGIN
            )

    async def close(self) -> None:
        """Closes open streams and abandons unawaited operations (their answers are dropped)."""
        for handle in list(self.streams):
            with contextlib.suppress(DriverFailure):
                await self._close_stream(handle)
        for task in self.background.values():
            task.cancel()
        for task in self.background.values():
            with contextlib.suppress(BaseException):
                await task


def _next_outcome(answer: dict[str, Any]) -> Outcome:
    """A watch_all_next answer: ok (an event, or {"end": "OK"}); an error end is an error view."""
    if "failure" in answer:
        raise DriverFailure(f"driver failure on watch_all_next: {answer['failure']}")
    value = answer.get("ok")
    if not isinstance(value, dict):
        raise DriverFailure(f"watch_all_next: bad answer {show(answer)}")
    end = value.get("end")
    if end is None:
        _check_event(value)
        return Outcome(True, value)
    if end == "OK":
        return Outcome(True, value)
    reason = value.get("end_reason")
    return Outcome(False, {"code": end, "reason": reason, "message": "", "metadata": {}})


def _check_event(msg: dict[str, Any]) -> None:
    """A driver's event answer must have the protocol's shape (README section 7)."""
    kind = msg.get("kind")
    ok = (
        kind in EVENT_KINDS
        and isinstance(msg.get("task_id"), str)
        and isinstance(msg.get("version"), int)
        and isinstance(msg.get("resume_cursor"), str)
        and isinstance(msg.get("task"), dict) == (kind == "write")
        and (kind != "write" or {"task_id", "version", "status"} <= set(msg["task"]))
    )
    if not ok:
        raise DriverFailure(f"watch_all_next: malformed event {show(msg)}")


def _collected(msg: dict[str, Any]) -> dict[str, Any] | None:
    """A collected event: a write is the task's id, version and status; a deletion or an
    expiry names its kind instead of a status; PROGRESS is no event (None)."""
    kind = msg["kind"]
    if kind == "progress":
        return None
    if kind == "write":
        task = msg["task"]
        return {k: task[k] for k in ("task_id", "version", "status")}
    return {"kind": kind, "task_id": msg["task_id"], "version": msg["version"]}


async def run_vectors(
    driver: DriverProcess, servers: Servers, files: list[Path]
) -> dict[str, str | None]:
    """Runs each file's scenario in order: name -> None (passed) or why it failed."""
    results: dict[str, str | None] = {}
    for path in files:
        try:
            doc = load(path)
            await ScenarioRun(driver, servers, doc.get("server", "main")).run(doc)
        except ScenarioError as exc:
            results[path.stem] = " ".join(str(exc).split())
        else:
            results[path.stem] = None
    return results
