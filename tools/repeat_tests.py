"""Runs one store-parametrized test many times in a row, per store, and reports the figures.

    python tools/repeat_tests.py --runs 20 --stores redis,dynamodb TEST_FILE [PYTEST_ARGS...]

A test that races, times or injects faults must pass 20 runs in a row (docs/design.md): this
is that loop, kept out of `make test` (`make fault-leases` runs it on the lease fault test).
The test's cases are taken from pytest's collection: one per store, the store being the case's
parameter (``test_x[redis]``); the cases of stores outside ``--stores`` are left out, and a
selection that leaves none fails (a misconfigured run must not look green). Each case runs
``--runs`` times, one pytest at a time, every run to the end even after a failure (a flake is
counted, not hidden); each run's output goes to ``--logs``/CASE-N.log. Prints, per store, the
pass count and the wall time per run (min / median / max); exits 1 if any run failed.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

PYTEST = [sys.executable, "-m", "pytest"]


def cases(test: str, stores: set[str]) -> list[tuple[str, str]]:
    """(store, node id) of every collected case whose parameter is one of `stores`."""
    out = subprocess.run(
        [*PYTEST, "--collect-only", "-q", test], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        sys.exit(f"collecting {test} failed ({out.returncode}):\n{out.stdout}{out.stderr}")
    found = []
    for line in out.stdout.splitlines():
        match = re.fullmatch(r"(\S+::\S+)\[([^\]]+)\]", line.strip())
        if match and match.group(2) in stores:
            found.append((match.group(2), match.group(1) + f"[{match.group(2)}]"))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("test", help="the test file (or node id without parameters)")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--stores", required=True, help="comma separated store names")
    parser.add_argument("--logs", type=Path, default=Path("build/repeat-tests"))
    args, pytest_args = parser.parse_known_args()
    stores = {s.strip() for s in args.stores.split(",") if s.strip()}
    selected = cases(args.test, stores)
    if not selected:
        sys.exit(f"{args.test}: no case runs on any of the stores {sorted(stores)}")
    args.logs.mkdir(parents=True, exist_ok=True)
    failed = False
    for store, node in selected:
        seconds: list[float] = []
        passed = 0
        for n in range(1, args.runs + 1):
            log = args.logs / f"{store}-{n}.log"
            started = time.monotonic()
            with log.open("w") as out:
                rc = subprocess.call(
                    [*PYTEST, "-q", "-p", "no:randomly", *pytest_args, node],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            seconds.append(time.monotonic() - started)
            passed += rc == 0
            print(
                f"{store} run {n}/{args.runs}: {'passed' if rc == 0 else 'FAILED'} "
                f"in {seconds[-1]:.1f}s" + ("" if rc == 0 else f" (log: {log})"),
                flush=True,
            )
        failed |= passed < args.runs
        print(
            f"{store}: {passed}/{args.runs} passed; seconds per run: min {min(seconds):.1f}, "
            f"median {statistics.median(seconds):.1f}, max {max(seconds):.1f}",
            flush=True,
        )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
