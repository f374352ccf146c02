"""Measure userdir against aiohttp's own ceiling, every row in one run (see bench/README.md).

Starts what each row needs on 127.0.0.1 (free ports), drives it with wrk, stops it again (also
on a failure, SIGTERM, Ctrl-C or the run's deadline), and writes bench/results/<UTC time>.md
(printed too) and .json. Usually started by bench/run.sh, which installs what this needs.

    .venv/bin/python bench/run.py [--quick] [--duration S] [--connections N] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import select
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any

import asyncpg
import profiler
import report
import support
import users_bench
import wrk
from rows import evaluate, ratios, rows

ROOT = support.ROOT
RESULTS = ROOT / "bench" / "results"
PAGE_1 = "/users"
ORGANIZATIONS = "/users?type=Organization&order_by=username&pagination=100"
MENU = "/restaurant/1/item"
ICONTAINS = "/users?username__icontains=abc"
CACHED = {"CACHE_TTL": "3600"}  # outlives any row: no entry may expire while it is measured
UNCACHED = {"CACHE_TTL": "0"}
HTTP_TIMEOUT = 30.0  # one checking request
SETUP_TIMEOUT = 120  # seconds for `userdir db reset` or `serve --help`
LOAD_TIMEOUT = 300  # seconds to load and analyze the PostgreSQL users (~30 s for 1,000,000)
WARMUP_SECONDS = 1  # of wrk at the row's concurrency, unmeasured, before each row
SINGLE_MIN_SECONDS = 5  # wrk -d of the one-connection row, even with --quick
SINGLE_ANSWERS = 3  # the one-connection row runs long enough for this many slow requests...
SINGLE_MAX_SECONDS = 60  # ...up to this long
WARM_ATTEMPTS = 60  # requests to warm every worker's cache before giving up


class Stopped(BaseException):
    """SIGTERM or the run's deadline: unwinds like Ctrl-C, through every cleanup."""


def _stop(signum: int, _: FrameType | None) -> None:
    raise Stopped(signal.Signals(signum).name)


def get(url: str) -> tuple[int, str | None]:
    """Status and X-Cache of one GET on a fresh connection."""
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as response:
            response.read()
            return response.status, response.headers.get("X-Cache")
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("X-Cache")


def check_answers(url: str, cache: str | None, processes: int) -> float:
    """200, and the cache state a row expects; returns the last request's seconds. Every worker
    holds its own in-process cache and the kernel picks which one accepts, so with several,
    warm until many HITs come in a row."""
    in_a_row = 1 if processes == 1 else 10 * processes
    hits = 0
    for _ in range(WARM_ATTEMPTS):
        started = time.perf_counter()
        status, state = get(url)
        seconds = time.perf_counter() - started
        if status != 200:
            raise RuntimeError(f"{url} answered {status}")
        if cache is None or (cache == "MISS" and state == "MISS"):
            return seconds
        if cache == "MISS":
            raise RuntimeError(f"X-Cache {state} with CACHE_TTL=0")
        hits = hits + 1 if state == "HIT" else 0
        if hits >= in_a_row:
            return seconds
    raise RuntimeError(f"no {in_a_row} X-Cache HITs in a row after {WARM_ATTEMPTS} requests")


class Bench:
    def __init__(self, args: argparse.Namespace, scratch: Path) -> None:
        users = args.users
        self.load = wrk.Load(args.threads, args.connections, args.duration)
        # One connection gets no answer at all in a short run when a request takes seconds; the
        # row also grows to fit a few such requests (wrk.stretched).
        self.single = wrk.Load(1, 1, max(args.duration, SINGLE_MIN_SECONDS))
        self.profile = args.profile
        self.deep = min(users_bench.DEEP_PAGE, users // users_bench.PAGE_SIZE)
        self.rows = {row.key: row for row in rows(users, self.deep)}
        self.results: dict[str, dict[str, Any]] = {}
        self.scratch = scratch

    def measure(self, key: str, url: str, cache: str | None, pid: int | None = None) -> None:
        row = self.rows[key]
        load = self.single if row.single_connection else self.load
        result: dict[str, Any] = {"url": url, "wrk": load.flags(), "processes": row.processes}
        try:
            took = check_answers(url, cache, row.processes)
            result["check_seconds"] = round(took, 4)
            if row.single_connection:
                load = wrk.stretched(load, took, SINGLE_ANSWERS, SINGLE_MAX_SECONDS)
                result["wrk"] = load.flags()
            if not row.single_connection:
                # Fills the connection pool and each connection's prepared statements, which
                # would otherwise weigh on a short row's first second.
                wrk.run(url, replace(load, seconds=WARMUP_SECONDS))
            result["figures"] = wrk.run(url, load)
            problems = wrk.problems(result["figures"])
            if not result["figures"]["requests"]:
                problems[-1] += f" (one request before it took {took:.1f} s)"
            if cache == "HIT" and get(url)[1] != "HIT":
                problems.append("the cached entry was gone after the run")
            result["status"] = "failed" if problems else "ok"
            result["reason"] = "; ".join(problems)
        except Exception as error:  # the row fails, the run goes on
            result.update(status="failed", reason=str(error))
        self.results[key] = result
        self._say(key, result)
        if self.profile and row.profiled and pid is not None and result["status"] == "ok":
            result["profile"] = self._profile(key, url, pid, load)

    def _profile(self, key: str, url: str, pid: int, load: wrk.Load) -> dict[str, Any]:
        out = self.scratch / f"{key}.raw"
        try:
            with profiler.recording(pid, load.seconds, out):
                rps = wrk.run(url, load)["rps"]
            found = profiler.own_time(out.read_text())
            return {**found, "rate": profiler.RATE, "rps": rps}
        except Exception as error:
            return {"error": str(error)}

    def fail(self, keys: list[str], reason: str, status: str = "failed") -> None:
        for key in keys:
            if key not in self.results:
                self.results[key] = {"status": status, "reason": reason}
                self._say(key, self.results[key])

    def group(self, keys: list[str], body: Callable[[], None]) -> None:
        """Run `body`, which measures `keys`; if it breaks, its unmeasured rows fail with why."""
        try:
            body()
        except Exception as error:
            self.fail(keys, f"{type(error).__name__}: {error}")

    @staticmethod
    def _say(key: str, result: dict[str, Any]) -> None:
        if result["status"] != "ok":
            print(f"{key:28} {result['status']}: {result['reason']}", file=sys.stderr, flush=True)
            return
        fig = result["figures"]
        print(
            f"{key:28} {fig['rps']:10,.1f} req/s  p50 {fig['latency_ms']['p50']:8.2f} ms"
            f"  p99 {fig['latency_ms']['p99']:8.2f} ms",
            file=sys.stderr,
            flush=True,
        )

    def finish(self) -> list[dict[str, Any]]:
        ceilings = {n: self.results.get(f"ceiling-{n}", {}) for n in (1, 2)}
        for key, result in self.results.items():
            if found := ratios(self.rows[key], result, ceilings):
                result["ratios"] = found
        return evaluate(self.results)


@contextmanager
def ceiling(processes: int) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """bench/ceiling.py on a free port; yields its URL and process once every one listens."""
    port = support.free_port()
    process = subprocess.Popen(
        [sys.executable, "bench/ceiling.py", "--port", str(port), "--processes", str(processes)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = _read_line(process, support.READY_TIMEOUT)
        if not line.startswith("ready "):
            raise RuntimeError(f"the ceiling did not start (exit status {process.poll()})")
        yield line.split(" ", 1)[1].strip(), process
    finally:
        support.stop(process)  # type: ignore[arg-type]
        if process.stdout is not None:
            process.stdout.close()


def _read_line(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    if select.select([process.stdout], [], [], timeout)[0]:
        return process.stdout.readline()
    return ""


def run_ceilings(bench: Bench) -> None:
    for processes in (1, 2):
        key = f"ceiling-{processes}"
        bench.group([key], partial(_ceiling_row, bench, key, processes))


def _ceiling_row(bench: Bench, key: str, processes: int) -> None:
    with ceiling(processes) as (url, _):
        bench.measure(key, url, cache=None)


def run_sqlite(bench: Bench) -> None:
    with tempfile.TemporaryDirectory(prefix="userdir-bench-") as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/userdir.db"
        subprocess.run(
            [sys.executable, "-m", "userdir.cli", "db", "reset"],
            env={**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"},
            cwd=ROOT,
            check=True,
            timeout=SETUP_TIMEOUT,
        )
        with support.server(url, **CACHED) as (base, _):
            bench.measure("sqlite-users-cached", base + PAGE_1, "HIT")
            bench.measure("sqlite-menu-cached", base + MENU, "HIT")
        with support.server(url, **UNCACHED) as (base, _):
            bench.measure("sqlite-users-uncached", base + PAGE_1, "MISS")
            bench.measure("sqlite-menu-uncached", base + MENU, "MISS")


def run_postgresql(bench: Bench, users: int, header: dict[str, Any]) -> None:
    name = support.database_name()
    try:
        header["postgres"] = asyncio.run(asyncio.wait_for(server_version(), 30))
        started = time.monotonic()
        with redirect_stdout(sys.stderr):  # its progress line; stdout carries the table
            load = users_bench.create_database(name, users)
            url = asyncio.run(asyncio.wait_for(load, LOAD_TIMEOUT))
        header["load_seconds"] = round(time.monotonic() - started, 1)
        secret = {"CURSOR_SECRET": users_bench.SECRET}
        with support.server(url, **CACHED, **secret) as (base, process):
            bench.measure("pg-users-cached", base + PAGE_1, "HIT", process.pid)
            bench.measure("pg-org-cached", base + ORGANIZATIONS, "HIT")
        with support.server(url, **UNCACHED, **secret) as (base, process):
            bench.measure("pg-users-uncached", base + PAGE_1, "MISS", process.pid)
            bench.measure("pg-org-uncached", base + ORGANIZATIONS, "MISS")
            bench.measure("pg-cursor-deep", deep_cursor_url(base, url, users), "MISS")
            bench.measure("pg-icontains", base + ICONTAINS, "MISS")
        bench.group(["pg-users-cached-workers-2"], lambda: run_workers(bench, url, secret))
    finally:
        asyncio.run(asyncio.wait_for(support.drop_database(name), 60))


async def server_version() -> str:
    conn = await asyncpg.connect(support.ADMIN_DSN, timeout=10)
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


def deep_cursor_url(base: str, url: str, users: int) -> str:
    """The cursor URL of the deep page, checked against the same page by page_number."""
    deep, scenarios = users_bench.scenarios_for(base, url, users)
    by_cursor = scenarios[f"page {deep:,} by cursor"]
    cursor_page = users_bench.fetch(by_cursor)
    if cursor_page != users_bench.fetch(scenarios[f"page {deep:,} by page_number"]):
        raise RuntimeError("the cursor page differs from the same page by page_number")
    return str(by_cursor)


def run_workers(bench: Bench, url: str, secret: dict[str, str]) -> None:
    key = "pg-users-cached-workers-2"
    usage = subprocess.run(
        [sys.executable, "-m", "userdir.cli", "serve", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=SETUP_TIMEOUT,
    ).stdout
    if "--workers" not in usage:
        bench.fail([key], "not supported by this build", status="n/a")
        return
    try:
        with support.server(url, ["--workers", "2"], **CACHED, **secret) as (base, _):
            bench.measure(key, base + PAGE_1, "HIT")
    except RuntimeError as error:
        if "exited with status 2" not in str(error):  # 2: the command line or settings refused
            raise
        bench.fail([key], "not supported by this build (`serve --workers 2` exited with 2)", "n/a")


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
    signal.alarm(LOAD_TIMEOUT + len(rows(args.users, 1)) * (45 + args.duration * passes))
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ")
    with tempfile.TemporaryDirectory(prefix="userdir-bench-") as scratch:
        bench = Bench(args, Path(scratch))
        header = machine_header(args, bench.load, bench.single)
        status = 0
        try:
            run_ceilings(bench)
            sqlite = [key for key in bench.rows if key.startswith("sqlite")]
            bench.group(sqlite, partial(run_sqlite, bench))
            postgresql = [key for key in bench.rows if key.startswith("pg")]
            bench.group(postgresql, partial(run_postgresql, bench, args.users, header))
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
