"""The official TypeScript MCP client against the Python example's two replicas.

The requester side lives in clients/typescript-mcp/test/python-interop.ts (node:test, official
@modelcontextprotocol/client 2.4); this test starts the cluster (two taskstate servers on one
Redis, one example replica each) and runs it with the replicas' URLs. Missing node or the
package's node_modules FAILS the test (``npm ci`` in clients/typescript-mcp, see its README).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "clients" / "typescript-mcp"
TIMEOUT = 300.0


def _run(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, cwd=PACKAGE, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


def test_official_typescript_client_follows_python_tasks(mcp_cluster) -> None:
    node = shutil.which("node")
    assert node, "node is not on PATH"
    assert (PACKAGE / "node_modules").is_dir(), f"run `npm ci` in {PACKAGE}"
    build = _run([node, "node_modules/typescript/bin/tsc", "-p", "tsconfig.json"])
    assert build.returncode == 0, build.stdout + build.stderr
    cluster = mcp_cluster()
    env = dict(os.environ, MCP_INTEROP_A=cluster.a.url, MCP_INTEROP_B=cluster.b.url)
    run = _run([node, "--test", "--test-concurrency=1", "build/test/python-interop.js"], env)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "# fail 0" in run.stdout, run.stdout[-6000:]
