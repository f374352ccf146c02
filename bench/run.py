"""Measure userdir against aiohttp's own ceiling, every row in one run (see bench/README.md).

Starts what each row needs on 127.0.0.1 (free ports), drives it with wrk, stops it again (also
on a failure, SIGTERM, Ctrl-C or the run's deadline), and writes bench/results/<UTC time>.md
(printed too) and .json. Usually started by bench/run.sh, which installs what this needs.

    .venv/bin/python bench/run.py [--quick] [--duration S] [--connections N] [--profile]
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any

import groups
import report
import support
import wrk
from measure import SINGLE_ANSWERS, SINGLE_MAX_SECONDS, Bench
from rows import rows

ROOT = support.ROOT
RESULTS = ROOT / "bench" / "results"


class Stopped(BaseException):
    """SIGTERM or the run's deadline: unwinds like Ctrl-C, through every cleanup."""


def _stop(signum: int, _: FrameType | None) -> None:
    raise Stopped(signal.Signals(signum).name)


def machine_header(args: argparse.Namespace, load: wrk.Load, single: wrk.Load) -> dict[str, Any]:
    uptime = subprocess.run(["uptime"], capture_output=True, text=True, timeout=10).stdout
    found = re.search(r"load averages?:\s*([\d.]+),?\s+([\d.]+),?\s+([\d.]+)", uptime)
    git = ["git", "-C", str(ROOT)]
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True
    ).stdout
    launcher = os.environ.get("USERDIR_BENCH_LAUNCHER", "bench/run.py")
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average": list(found.groups()) if found else ["?", "?", "?"],
        "uptime": uptime.strip(),
        "cpus": os.cpu_count(),
        "commit": commit.strip()[:12] + (" with uncommitted changes" if dirty.strip() else ""),
        "command": " ".join([launcher, *map(shlex.quote, sys.argv[1:])]),
        "wrk": load.flags(),
        "wrk_single": (
            f"-t1 -c1 for at least {single.seconds} s, longer when {SINGLE_ANSWERS} requests "
            f"need it (at most {SINGLE_MAX_SECONDS} s)"
        ),
        "users": args.users,
        "postgres": "?",
        "load_seconds": "?",
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, help="seconds of wrk a row (default 10)")
    parser.add_argument("--connections", type=int, default=64, help="wrk -c (default 64)")
    parser.add_argument("--threads", type=int, default=2, help="wrk -t (default 2)")
    parser.add_argument("--users", type=int, default=1_000_000, help="PostgreSQL users to load")
    parser.add_argument("--quick", action="store_true", help="2 s a row: a smoke run")
    parser.add_argument("--profile", action="store_true", help="py-spy the /users page 1 rows")
    args = parser.parse_args()
    args.duration = args.duration or (2 if args.quick else 10)
    if min(args.duration, args.connections, args.threads, args.users) < 1:
        parser.error("--duration, --connections, --threads and --users must be at least 1")
    return args


def main() -> int:
    args = parse_args()
    # Ctrl-C must unwind even when a non-interactive shell started us with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGALRM, _stop)
    # A hard stop well past a normal run: the load's own limit, then per row its wrk passes and
    # a generous share of the server starts and checks.
    passes = 2 if args.profile else 1
    signal.alarm(groups.LOAD_TIMEOUT + len(rows(args.users, 1)) * (45 + args.duration * passes))
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ")
    with tempfile.TemporaryDirectory(prefix="userdir-bench-") as scratch:
        bench = Bench(args, Path(scratch))
        header = machine_header(args, bench.load, bench.single)
        status = 0
        try:
            groups.run_ceilings(bench)
            sqlite = [key for key in bench.rows if key.startswith("sqlite")]
            bench.group(sqlite, partial(groups.run_sqlite, bench))
            postgresql = [key for key in bench.rows if key.startswith("pg")]
            bench.group(postgresql, partial(groups.run_postgresql, bench, args.users, header))
        except (KeyboardInterrupt, Stopped) as stop:
            header["incomplete"] = f"stopped ({type(stop).__name__} {stop})".replace(" )", ")")
            status = 130
        finally:
            signal.alarm(0)
        targets = bench.finish()
        table_rows = list(bench.rows.values())
        path, text = report.write(RESULTS, stamp, header, table_rows, bench.results, targets)
    print(text)
    print(
        f"written: {path.relative_to(ROOT)} and {path.with_suffix('.json').name}", file=sys.stderr
    )
    failed = any(result["status"] == "failed" for result in bench.results.values())
    return status or (1 if failed else 0)


if __name__ == "__main__":
    sys.exit(main())
