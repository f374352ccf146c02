"""The servers bench/run.py measures, each group started, measured and stopped in turn:
the ceilings, SQLite with the sample data, PostgreSQL with many users (one and two workers)."""

from __future__ import annotations

import asyncio
import os
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from functools import partial
from typing import Any

import asyncpg
import support
import users_bench
from measure import Bench

ROOT = support.ROOT
PAGE_1 = "/users"
ORGANIZATIONS = "/users?type=Organization&order_by=username&pagination=100"
MENU = "/restaurant/1/item"
ICONTAINS = "/users?username__icontains=abc"
CACHED = {"CACHE_TTL": "3600"}  # outlives any row: no entry may expire while it is measured
UNCACHED = {"CACHE_TTL": "0"}
SETUP_TIMEOUT = 120  # seconds for `userdir db reset` or `serve --help`
LOAD_TIMEOUT = 300  # seconds to load and analyze the PostgreSQL users (~30 s for 1,000,000)


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
