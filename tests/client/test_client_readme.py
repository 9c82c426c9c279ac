"""The Python and CLI examples of the READMEs run as written against a server like `make run`.

Runs every ```python and ```sh block of clients/python/README.md, and of the root README's
"## Python" and "## Try it" sections, except blocks after a `<!-- not-run -->` line. The
server is configured like `make run` (SQLite, no tokens, loopback); examples find it through
TASKSTATE_ADDRESS, which is how they are written to be used. TASKSTATE_ROOT_README points the
root part at a draft.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _harness import ServerProcess

REPO = Path(__file__).resolve().parents[2]
CLIENT_README = REPO / "clients" / "python" / "README.md"
ROOT_README = Path(os.environ.get("TASKSTATE_ROOT_README", REPO / "README.md"))
NOT_RUN = "<!-- not-run -->"
LANGUAGES = ("python", "sh")


@dataclass(frozen=True)
class Block:
    where: str
    language: str
    code: str


def blocks(path: Path, sections: tuple[str, ...] = ()) -> list[Block]:
    """The runnable blocks of `path` (only under the `## ` headings in `sections`, if given)."""
    out: list[Block] = []
    inside = not sections
    previous = ""
    lines = path.read_text(encoding="utf-8").splitlines()
    n = 0
    while n < len(lines):
        line = lines[n]
        if line.startswith("## ") and sections:
            inside = line.strip() in sections
        if line.startswith("```"):
            language, start = line[3:].strip(), n
            n += 1
            body: list[str] = []
            while n < len(lines) and not lines[n].startswith("```"):
                body.append(lines[n])
                n += 1
            if inside and language in LANGUAGES and previous.strip() != NOT_RUN:
                out.append(Block(f"{path.name}:{start + 1}", language, "\n".join(body) + "\n"))
        if line.strip():
            previous = line
        n += 1
    return out


def _all_blocks() -> list[Block]:
    return blocks(CLIENT_README) + blocks(ROOT_README, ("## Python", "## Try it"))


@pytest.fixture(scope="module")
def make_run_server(module_server_factory: Any) -> ServerProcess:
    server: ServerProcess = module_server_factory("sqlite", tokens=False)
    return server


def _env(server: ServerProcess) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKSTATE_")}
    env["TASKSTATE_ADDRESS"] = server.address
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def test_the_readmes_have_examples() -> None:
    found = _all_blocks()
    assert {b.language for b in found} == set(LANGUAGES)
    assert sum(b.where.startswith("README.md") for b in found) >= 2, "root README sections"


@pytest.mark.parametrize("block", _all_blocks(), ids=lambda b: b.where)
def test_example_runs(block: Block, make_run_server: ServerProcess, tmp_path: Path) -> None:
    if block.language == "python":
        cmd = [sys.executable, "-c", block.code]
    else:
        bash = shutil.which("bash")
        assert bash, "bash is needed to run the shell examples"
        cmd = [bash, "-euo", "pipefail", "-c", block.code]
    done = subprocess.run(
        cmd,
        cwd=REPO if block.language == "sh" else tmp_path,  # `. .venv/bin/activate` is relative
        env=_env(make_run_server),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, (
        f"{block.where} exited {done.returncode}\n--- code ---\n{block.code}"
        f"--- stdout ---\n{done.stdout}--- stderr ---\n{done.stderr}"
    )
    assert "Traceback" not in done.stderr
