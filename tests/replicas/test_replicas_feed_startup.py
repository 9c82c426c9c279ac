"""A replica that has just started must not serve watches its change feed cannot feed yet.

Replica B reaches DynamoDB Local through a TCP proxy owned by this test that holds back every
DynamoDB Streams ``DescribeStream`` request for a few seconds (fault injection: a slow network
or a slow Streams endpoint), so B's change feed starts following the table only that long after
B has started. Everything else B sends passes straight through.

The contract (docs/design.md §5.13): WatchTasks shows every change "from the moment the stream
is open"; WatchTask shows every later committed version. So a watch opened on B once B answers
must either deliver a change committed through replica A afterwards, or end with UNAVAILABLE
(so the client resumes / re-lists). Staying silent loses the change for good.
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import grpc
from _harness import build_store_url
from _replica_helpers import drop_database
from _streams import StreamCollector
from taskstate.v1 import taskstate_pb2 as pb

HOLD_S = 4.0
CALL_S = 10.0


class HoldingProxy:
    """Forwards TCP to ``target``; client->server chunks that contain ``marker`` are held back
    for ``hold`` seconds first (requests on one keep-alive connection stay in order)."""

    def __init__(self, target_port: int, marker: bytes, hold: float) -> None:
        self.target_port = target_port
        self.marker = marker
        self.hold = hold
        self.held = 0
        self.first_release: float | None = None
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _pipe(
        self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, inspect: bool
    ) -> None:
        try:
            while data := await src.read(65536):
                if inspect and self.marker in data:
                    self.held += 1
                    await asyncio.sleep(self.hold)  # the injected fault, not a synchronisation
                    if self.first_release is None:
                        self.first_release = asyncio.get_running_loop().time()
                dst.write(data)
                await dst.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            dst.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        pipes = [
            asyncio.ensure_future(self._pipe(reader, up_writer, True)),
            asyncio.ensure_future(self._pipe(up_reader, writer, False)),
        ]
        self._tasks.update(pipes)
        await asyncio.gather(*pipes, return_exceptions=True)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t


def with_endpoint(url: str, endpoint: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query["endpoint"] = endpoint
    return urlunsplit(parts._replace(query=urlencode(query, safe=":/")))


async def delivered_or_unavailable(stream: StreamCollector, version: int) -> str:
    """ "delivered", "UNAVAILABLE" (both fine), or what went wrong."""
    try:
        await stream.until_version(version, within=HOLD_S + 8)
        return "delivered"
    except AssertionError:
        if stream.outcome is not None and stream.outcome.code == grpc.StatusCode.UNAVAILABLE:
            return "UNAVAILABLE"
        return (
            f"silently missed version {version}: got {[m.task.version for m in stream.messages]}, "
            f"{stream.outcome.describe() if stream.outcome else 'stream still open'}"
        )


async def test_watches_on_a_just_started_replica_miss_nothing(server_factory, tmp_path):
    url = build_store_url("dynamodb", tmp_path / "store")
    endpoint = dict(parse_qsl(urlsplit(url).query))["endpoint"]
    target_port = urlsplit(endpoint).port
    assert target_port is not None, endpoint
    proxy = HoldingProxy(target_port, b"DynamoDBStreams_20120810.DescribeStream", HOLD_S)
    await proxy.start()
    streams: list[StreamCollector] = []
    stubs = []
    servers = []
    try:
        a = server_factory(store_url=url)
        servers.append(a)
        owner = a.fresh_owner()
        b = server_factory(
            store_url=with_endpoint(url, f"http://127.0.0.1:{proxy.port}"),
            tokens=a.tokens,
            start=False,
        )
        b.tokens_file = a.tokens_file
        servers.append(b)
        on_a = a.aio_stub(owner)
        stubs.append(on_a)
        task = (await on_a.CreateTask(pb.CreateTaskRequest(), timeout=CALL_S)).task

        await asyncio.to_thread(b.start)  # the proxy runs on this event loop: do not block it
        on_b = b.aio_stub(owner)
        stubs.append(on_b)
        owner_watch = StreamCollector(on_b.WatchTasks(pb.WatchTasksRequest()))
        streams.append(owner_watch)
        await owner_watch.call.initial_metadata()
        task_watch = StreamCollector(on_b.WatchTask(pb.WatchTaskRequest(task_id=task.task_id)))
        streams.append(task_watch)
        await task_watch.until_version(1)

        v2 = (
            await on_a.UpdateTaskStatus(
                pb.UpdateTaskStatusRequest(
                    task_id=task.task_id, status=pb.TASK_STATUS_INPUT_REQUIRED
                ),
                timeout=CALL_S,
            )
        ).task
        written_at = asyncio.get_running_loop().time()
        assert proxy.held >= 1, "B's change feed never asked for the stream"
        # The server waits for its feed before it answers, so B's first answer (and so
        # this write) comes after the held request was let through: no window remains.
        assert proxy.first_release is not None and proxy.first_release <= written_at

        got = dict(
            zip(
                ("WatchTask", "WatchTasks"),
                await asyncio.gather(
                    delivered_or_unavailable(task_watch, v2.version),
                    delivered_or_unavailable(owner_watch, v2.version),
                ),
                strict=True,
            )
        )
        print(f"\nwatches opened on B while its feed was held back: {got}")
        assert set(got.values()) <= {"delivered", "UNAVAILABLE"}, (
            f"watches on replica B lost a change written through replica A right after B started "
            f"serving (B's change feed was not following the table yet): {got}"
        )
    finally:
        for s in streams:
            await s.close()
        for s in stubs:
            await s._channel_ref.close()
        for server in servers:
            await asyncio.to_thread(server.close)
        await proxy.close()
        await asyncio.to_thread(drop_database, "dynamodb", url)
