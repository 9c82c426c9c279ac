"""The engine's side of the driver line protocol (README section "The driver protocol").

A driver is a subprocess that answers JSON requests, one per line, in any order; this module
numbers the requests, writes them, and routes each answer line to the request that awaits it.
It also keeps the driver's stderr, so a failure report can show what the driver said.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .matchers import Outcome

HELLO_TIMEOUT = 120.0  # a JVM or a cold node start on a loaded machine
LINE_LIMIT = 256 * 1024 * 1024  # answers carry whole tasks (up to 4 MiB each) and watch lists
STDERR_LINES = 400


class DriverFailure(Exception):
    """The driver could not answer: it said ``failure``, died, broke the protocol or timed out."""


@dataclass(frozen=True)
class Target:
    """Where and as whom a request is made; token None = no authorization metadata at all.

    subject None = no ``taskstate-subject`` metadata (the key is left out of the request, so a
    driver that predates subjects still reads every other target unchanged).
    """

    address: str
    token: str | None
    subject: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"address": self.address, "token": self.token}
        if self.subject is not None:
            out["subject"] = self.subject
        return out


class DriverProcess:
    """One running driver; many requests may be in flight at once."""

    def __init__(self, name: str, proc: asyncio.subprocess.Process) -> None:
        self.name = name
        self._proc = proc
        self._next_id = 0
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._stderr: collections.deque[str] = collections.deque(maxlen=STDERR_LINES)
        self._hello: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._broken: str | None = None
        self._readers = [
            asyncio.create_task(self._read_stdout()),
            asyncio.create_task(self._read_stderr()),
        ]

    @classmethod
    async def start(
        cls,
        name: str,
        command: list[str],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> DriverProcess:
        """Starts ``command`` and waits for its hello line; TASKSTATE_TOKEN is never inherited."""
        base = dict(os.environ if env is None else env)
        base.pop("TASKSTATE_TOKEN", None)
        proc = await asyncio.create_subprocess_exec(
            *command,
            cwd=cwd,
            env=base,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=LINE_LIMIT,
        )
        driver = cls(name, proc)
        try:
            hello = await asyncio.wait_for(asyncio.shield(driver._hello), HELLO_TIMEOUT)
        except TimeoutError:
            await driver.close()
            raise DriverFailure(
                f"{name}: no hello line within {HELLO_TIMEOUT:.0f}s\n{driver.stderr_tail()}"
            ) from None
        except DriverFailure as exc:
            await driver.close()
            raise DriverFailure(f"{exc}\n{driver.stderr_tail()}") from None
        if hello != name:
            await driver.close()
            raise DriverFailure(f"{name}: the driver says hello as {hello!r}")
        return driver

    # -- requests --------------------------------------------------------------------------------

    def submit(self, op: str, target: Target | None, args: dict[str, Any]) -> asyncio.Future[Any]:
        """Writes one request now (requests reach the driver in step order); returns its answer."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        if self._broken is not None:
            future.set_exception(DriverFailure(self._broken))
            return future
        self._next_id += 1
        request: dict[str, Any] = {"id": self._next_id, "op": op, "args": args}
        if target is not None:
            request["target"] = target.to_json()
        self._pending[self._next_id] = future
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps(request).encode() + b"\n")
        return future

    async def call(
        self, op: str, target: Target | None, args: dict[str, Any], within: float
    ) -> Outcome:
        """One request: the outcome (ok value or error view); DriverFailure for anything else."""
        future = self.submit(op, target, args)
        try:
            answer = await asyncio.wait_for(future, within)
        except TimeoutError:
            raise DriverFailure(f"timeout: no answer to {op} within {within:.0f}s") from None
        if "ok" in answer:
            return Outcome(True, answer["ok"])
        if "error" in answer:
            return Outcome(False, _error_view(answer["error"]))
        raise DriverFailure(f"driver failure on {op}: {answer.get('failure')}")

    # -- reading ---------------------------------------------------------------------------------

    async def _read_stdout(self) -> None:
        assert self._proc.stdout is not None
        why = "closed its stdout"
        try:
            while line := await self._proc.stdout.readline():
                self._accept(line)
        except (ValueError, DriverFailure) as exc:  # an over-long line or a bad answer
            why = f"broke the protocol: {exc}"
        code = await self._proc.wait() if why == "closed its stdout" else None
        self._break(f"{self.name} driver {why}" + (f" (exit code {code})" if code else ""))

    def _accept(self, line: bytes) -> None:
        try:
            msg = json.loads(line)
        except ValueError:
            raise DriverFailure(f"not a JSON line: {line[:300]!r}") from None
        if not isinstance(msg, dict):
            raise DriverFailure(f"not a JSON object: {line[:300]!r}")
        if "hello" in msg:
            if not self._hello.done():
                self._hello.set_result(str(msg["hello"]))
            return
        if not self._hello.done():
            raise DriverFailure(f"first line is not a hello: {line[:300]!r}")
        if len({"ok", "error", "failure"} & set(msg)) != 1:
            raise DriverFailure(f"an answer needs exactly one of ok/error/failure: {line[:300]!r}")
        future = self._pending.pop(msg.get("id", -1), None)
        if future is None:
            raise DriverFailure(f"answer to an unknown id: {line[:300]!r}")
        if not future.done():  # the engine may have given up on it already
            future.set_result(msg)

    async def _read_stderr(self) -> None:
        assert self._proc.stderr is not None
        with contextlib.suppress(ValueError):
            while line := await self._proc.stderr.readline():
                self._stderr.append(line.decode("utf-8", "replace").rstrip("\n"))

    def _break(self, why: str) -> None:
        self._broken = why
        if not self._hello.done():
            self._hello.set_exception(DriverFailure(why))
        for future in self._pending.values():
            if not future.done():
                future.set_exception(DriverFailure(why))
        self._pending.clear()

    def stderr_tail(self) -> str:
        """The driver's last stderr lines, for failure reports."""
        lines = "\n".join(self._stderr)
        return f"--- {self.name} driver stderr ---\n{lines or '(empty)'}"

    async def close(self) -> None:
        """Closes stdin (the driver then exits); kills it if it does not within 10 s."""
        if self._proc.stdin is not None and not self._proc.stdin.is_closing():
            self._proc.stdin.close()
        try:
            await asyncio.wait_for(self._proc.wait(), 10.0)
        except TimeoutError:
            self._proc.kill()
            await self._proc.wait()
        for reader in self._readers:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(reader, 5.0)
        if not self._hello.done():
            self._hello.cancel()


def _error_view(err: Any) -> dict[str, Any]:
    """Normalises an error answer to the error view (README section 3)."""
    if not isinstance(err, dict) or not isinstance(err.get("code"), str):
        raise DriverFailure(f"malformed error answer {err!r}")
    return {
        "code": err["code"],
        "reason": err.get("reason") or None,
        "message": err.get("message", ""),
        "metadata": {str(k): str(v) for k, v in (err.get("metadata") or {}).items()},
    }
