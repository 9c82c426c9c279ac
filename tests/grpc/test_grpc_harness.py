"""The harness itself: restart semantics other suites rely on, and clear start-up failures."""

from __future__ import annotations

import pytest
from _grpc_helpers import create, get
from _harness import ServerStartError, build_store_url, sync_stub
from _stores import selected_stores


def test_restart_keeps_address_and_data(server_factory, tmp_path):
    server = server_factory(store_url=build_store_url("sqlite", tmp_path / "db"))
    address = server.address
    keep = sync_stub(address, server.token("alice"))  # a long-lived client channel
    try:
        task = create(keep)
        assert server.stop() == 0
        assert not server.running
        server.restart()
        assert server.address == address, "restart reuses the port when it can"
        assert get(keep, task.task_id) == task, "the old channel reconnects; sqlite kept the task"
    finally:
        keep._channel_ref.close()


def test_start_failure_is_clear(server_factory):
    server = server_factory(store_url="nosuchstore://x", start=False)
    with pytest.raises(ServerStartError) as info:
        server.start(timeout=20)
    text = str(info.value)
    assert "exited with code" in text and "nosuchstore://x" in text


def test_store_selection_defaults():
    assert selected_stores()  # the configured stores parse
