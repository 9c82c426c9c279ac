"""Packaging: what a user gets from the wheels, not from this checkout.

The first group builds the API, client and server wheels from this tree and installs them into a
fresh venv (the files, plus PyPI for third-party dependencies): first the server alone, which must
need only the API package, never the client; then the client, whose `taskstate` CLI drives that
venv's `taskstate-server`. A base install serves SQLite and must not carry the Redis or AWS
libraries; asking it for such a store names the extra to install.

The last group checks the same message in-process, by hiding the optional modules.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from _harness import ServerProcess, build_store_url
from taskstate_server.backends import MissingExtraError, StoreURLError, open_backend
from taskstate_server.backends.stores import STORES as STORE_TABLE

REPO = Path(__file__).resolve().parents[2]
# Distributions of the [redis] and [dynamodb] extras: none may come with a base install.
EXTRA_DISTRIBUTIONS = {
    *("redis", "hiredis"),
    *("aioboto3", "aiobotocore", "boto3", "botocore", "aiohttp"),
}
STEP_TIMEOUT = 600  # one build or pip install on a loaded machine with a cold cache


def _clean_env() -> dict[str, str]:
    """This process's environment without what would make a venv see this checkout."""
    drop = {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}
    return {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("TASKSTATE_")}


def _run(cmd: list[str], *, cwd: Path | None = None) -> str:
    """Runs a setup step; a failure shows the step's whole output."""
    proc = subprocess.run(
        cmd,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=STEP_TIMEOUT,
        env=_clean_env(),
        check=False,
    )
    assert proc.returncode == 0, f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout}"
    return proc.stdout


@dataclass(frozen=True)
class InstalledVenv:
    """A venv holding only the built wheels and what they depend on."""

    root: Path
    # After installing the server's wheel, before the client's: the distributions (lower-case
    # names), and the top-level modules the server's own modules failed to import.
    server_only: frozenset[str] = frozenset()
    server_missing: frozenset[str] = frozenset()

    def bin(self, name: str) -> str:
        return str(self.root / "bin" / name)

    def python(self, code: str) -> str:
        return _run([self.bin("python"), "-c", code])


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> InstalledVenv:
    base = tmp_path_factory.mktemp("dist")
    wheels = base / "wheels"
    for project in ("api/python", "clients/python", "server"):
        # sdist, then the wheel from it (as `make dist`): the wheel holds only what the sdist
        # ships, and nothing is built inside the checkout (no stale build/ to leak into it).
        _run([sys.executable, "-m", "build", "--outdir", str(wheels), project], cwd=REPO)
    files = {Path(p).name.split("-")[0]: str(p) for p in wheels.glob("*.whl")}
    assert sorted(files) == ["taskstate_api", "taskstate_client", "taskstate_server"]
    venv = InstalledVenv(base / "venv")
    _run([sys.executable, "-m", "venv", str(venv.root)])
    pip = [venv.bin("python"), "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
    # The server first, with only the API's wheel beside it: the client must not come along.
    _run([*pip, files["taskstate_api"], files["taskstate_server"]])
    server_only = frozenset(_distributions(venv))
    server_missing = frozenset(json.loads(venv.python(IMPORT_EVERY_SERVER_MODULE)))
    _run([*pip, files["taskstate_client"]])
    return InstalledVenv(venv.root, server_only, server_missing)


# Imports every module of the installed server (but __main__, which would run it) and prints the
# top-level names that were missing (the store extras' libraries are, in a base install).
IMPORT_EVERY_SERVER_MODULE = """
import importlib, json, pkgutil, taskstate_server
missing = set()
for mod in pkgutil.walk_packages(taskstate_server.__path__, "taskstate_server."):
    if mod.name.endswith(".__main__"):
        continue
    try:
        importlib.import_module(mod.name)
    except ModuleNotFoundError as exc:
        missing.add((exc.name or "?").partition(".")[0])
print(json.dumps(sorted(missing)))
"""


def _distributions(venv: InstalledVenv) -> list[str]:
    """The lower-case names of every distribution installed in the venv."""
    names: list[str] = json.loads(
        venv.python(
            "import importlib.metadata as m, json;"
            "print(json.dumps(sorted({d.metadata['Name'].lower() for d in m.distributions()})))"
        )
    )
    return names


def test_server_wheel_installs_without_the_client(installed: InstalledVenv) -> None:
    assert {"taskstate-server", "taskstate-api", "grpcio"} <= installed.server_only
    assert "taskstate-client" not in installed.server_only, sorted(installed.server_only)
    # Every server module imports without it; only the store extras' libraries may be missing.
    assert installed.server_missing <= EXTRA_DISTRIBUTIONS, installed.server_missing


def test_base_install_has_no_store_extras(installed: InstalledVenv) -> None:
    names = _distributions(installed)
    assert {"taskstate-server", "taskstate-client", "taskstate-api", "grpcio"} <= set(names)
    assert EXTRA_DISTRIBUTIONS.isdisjoint(names), names
    # The code runs from the venv's site-packages, not from this checkout.
    where = installed.python(
        "import taskstate_server, taskstate_client, taskstate.v1.taskstate_pb2 as api;"
        "print(taskstate_server.__file__); print(taskstate_client.__file__); print(api.__file__)"
    )
    for path in where.split():
        assert Path(path).is_relative_to(installed.root), where


class InstalledServer(ServerProcess):
    """The fresh venv's `taskstate-server` script instead of this checkout's module."""

    def __init__(self, script: str, store_url: str, *, workdir: Path) -> None:
        super().__init__(store_url, workdir=workdir)
        self.script = script

    def command(self, listen: str) -> list[str]:
        cmd = [self.script, "--listen", listen, "--store", self.store_url]
        if self.tokens_file is not None:
            cmd += ["--auth-tokens", str(self.tokens_file)]
        return cmd


@pytest.fixture
def installed_server(
    installed: InstalledVenv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[InstalledServer]:
    monkeypatch.delenv("PYTHONPATH", raising=False)  # the server sees its venv only
    server = InstalledServer(
        installed.bin("taskstate-server"),
        build_store_url("sqlite", tmp_path),
        workdir=tmp_path,
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_installed_cli_creates_and_gets_on_installed_server(
    installed: InstalledVenv, installed_server: InstalledServer
) -> None:
    env = {
        **_clean_env(),
        "TASKSTATE_ADDRESS": installed_server.address,
        "TASKSTATE_TOKEN": installed_server.token("alice"),
    }

    def cli(*args: str) -> dict[str, object]:
        proc = subprocess.run(
            [installed.bin("taskstate"), "--json", *args],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0, f"taskstate {' '.join(args)}: {proc.stderr}"
        result: dict[str, object] = json.loads(proc.stdout)
        return result

    created = cli("create", "--method", "tools/call", "--var", "step=1")
    assert created["status"] == "working" and created["variables"] == {"step": 1}
    assert cli("get", str(created["task_id"])) == created


@pytest.mark.parametrize(
    ("store", "extra"),
    [("redis://127.0.0.1:1/0", "redis"), ("dynamodb://t?region=us-east-1", "dynamodb")],
)
def test_installed_server_names_the_missing_extra(
    installed: InstalledVenv, tmp_path: Path, store: str, extra: str
) -> None:
    proc = subprocess.run(
        [installed.bin("taskstate-server"), "--store", store, "--listen", "127.0.0.1:0"],
        env=_clean_env(),
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert f"pip install 'taskstate-server[{extra}]'" in proc.stderr
    assert "Traceback" not in proc.stderr


# -- in-process: the optional modules hidden from this interpreter ----------------------------


def _hide(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    """Makes `import X` (and X.sub) raise ModuleNotFoundError, as if X were not installed, and
    forgets our backend modules so the next open_backend imports them again."""
    for name in list(sys.modules):
        if name.partition(".")[0] in modules or name in modules:
            monkeypatch.setitem(sys.modules, name, None)  # type: ignore[arg-type]
    for name in modules:
        monkeypatch.setitem(sys.modules, name, None)  # type: ignore[arg-type]
        # `from . import sub` takes the package's attribute when it exists: hide that too.
        parent, _, child = name.rpartition(".")
        if parent in sys.modules:
            monkeypatch.delattr(sys.modules[parent], child, raising=False)
    # Every module of the stores that come with an extra (their packages, from the store table).
    ours = [f"taskstate_server.backends{s.module}" for s in STORE_TABLE if s.extra]
    for name in list(sys.modules):
        if name not in modules and any(name == m or name.startswith(f"{m}.") for m in ours):
            monkeypatch.delitem(sys.modules, name)


@pytest.mark.parametrize(
    ("url", "hidden", "extra"),
    [
        ("redis://127.0.0.1:1/0", "redis", "redis"),
        ("rediss://127.0.0.1:1/0", "redis", "redis"),
        ("dynamodb://t?region=us-east-1", "aioboto3", "dynamodb"),
        ("dynamodb://t?region=us-east-1", "aiohttp", "dynamodb"),
    ],
)
def test_store_without_its_extra_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, url: str, hidden: str, extra: str
) -> None:
    _hide(monkeypatch, hidden)
    with pytest.raises(MissingExtraError) as caught:
        asyncio.run(open_backend(url))
    message = str(caught.value)
    scheme = url.partition("://")[0]
    assert message.startswith(f"{scheme}:// stores need `pip install 'taskstate-server[{extra}]'`")
    assert repr(hidden) in message
    # The server's CLI reports StoreURLError as a one-line error, exit 2: no traceback.
    assert isinstance(caught.value, StoreURLError)


def test_a_missing_module_of_our_own_is_not_blamed_on_an_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _hide(monkeypatch, "taskstate_server.backends.redis.scripts")
    with pytest.raises(ModuleNotFoundError) as caught:
        asyncio.run(open_backend("redis://127.0.0.1:1/0"))
    assert not isinstance(caught.value, MissingExtraError)
    assert caught.value.name == "taskstate_server.backends.redis.scripts"
