"""An unreachable database surfaces as the domain's BackendUnavailable, never as
a raw backend or driver exception (docs/design.md §6: UNAVAILABLE)."""

from __future__ import annotations

import pytest
from taskstate_server.domain.errors import BackendUnavailable
from taskstate_server.domain.model import TaskPatch, TaskStatus
from taskstate_server.transport.errors import reason_for

OWNER = "alice"


async def test_every_operation_reports_backend_unavailable(store, cut_off):
    t = await store.create(OWNER)
    await cut_off()
    tid = t.task_id
    ops = {
        "ping": lambda: store.ping(),
        "create": lambda: store.create(OWNER),
        "get": lambda: store.get(OWNER, tid),
        "list": lambda: store.list(OWNER),
        "update_status": lambda: store.update_status(OWNER, tid, TaskStatus.COMPLETED),
        "set_variables": lambda: store.set_variables(OWNER, tid, {"a": 1}),
        "put_if_version": lambda: store.put_if_version(
            OWNER, tid, 1, TaskPatch(mask=frozenset({"status_message"}), status_message="x")
        ),
        "complete": lambda: store.complete(OWNER, tid, status=TaskStatus.FAILED),
        "cancel": lambda: store.cancel(OWNER, tid),
        "delete": lambda: store.delete(OWNER, tid),
        "wait": lambda: store.wait(OWNER, tid, timeout_s=0),
        "watch": lambda: anext(store.watch(OWNER, tid)),
        "sweep_expired": lambda: store.sweep_expired(),
    }
    for name, op in ops.items():
        with pytest.raises(BackendUnavailable) as e:
            await op()
            pytest.fail(f"{name} did not report the outage")
        assert reason_for(e.value) == "BACKEND_UNAVAILABLE"
