"""Fixtures for the multi-replica tests (tests/replicas): several real servers, one store.

``replicas(store, n=2, args=...)``  starts ``n`` server processes on ONE shared store (the
                                    same store URL and the same tokens file), for the shared
                                    stores "redis" and "dynamodb" (``TASKSTATE_TEST_REDIS_URL``
                                    / ``TASKSTATE_TEST_DYNAMODB_URL``, defaulting like the
                                    harness). Each call gets a fresh Redis prefix / DynamoDB
                                    table. An unreachable store FAILS the test (never skips).
``own_redis``                       a dedicated redis-server (tools/services/redis.sh) on a free
                                    port, that the test may stop and start again.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from _harness import ServerProcess, build_store_url
from _replica_helpers import SHARED_STORES, drop_database, free_port, redis_service
from _stores import Service


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[Service]:
    server = redis_service(free_port(), tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


ReplicaFactory = Callable[..., list[ServerProcess]]


@pytest.fixture
def replicas(server_factory) -> Iterator[ReplicaFactory]:
    """``replicas(store, n=2, args=(), store_url=None)`` -> ``n`` running servers on one store.

    Every replica gets the same store URL and literally the same tokens file (the first
    replica's), so a token is valid on all of them. Afterwards the servers are stopped and a
    DynamoDB table made for them is dropped (DynamoDB Local keeps every table in memory).
    """
    made: list[ServerProcess] = []
    databases: list[tuple[str, str]] = []  # (store, URL)

    def make(
        store: str,
        n: int = 2,
        args: tuple[str, ...] | list[str] = (),
        store_url: str | None = None,
    ) -> list[ServerProcess]:
        if store_url is None:
            assert store in SHARED_STORES, store
            store_url = build_store_url(store, server_factory.tmp_dir / "store")
            databases.append((store, store_url))
        first = server_factory(store_url=store_url, args=list(args))
        made.append(first)
        first.store_name = store
        out = [first]
        for _ in range(n - 1):
            other = server_factory(
                store_url=store_url, args=list(args), tokens=first.tokens, start=False
            )
            other.store_name = store
            other.tokens_file = first.tokens_file  # the same file, not just the same content
            made.append(other)
            other.start()
            out.append(other)
        return out

    try:
        yield make
    finally:
        for server in made:
            server.close()
        for store, url in databases:
            drop_database(store, url)
