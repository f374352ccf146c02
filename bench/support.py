"""Plumbing shared by the benchmarks: throwaway PostgreSQL databases and local servers.

Everything here targets 127.0.0.1 and is bounded in time: databases are dropped (FORCE) on the
way out, servers get SIGTERM and, if they linger, SIGKILL.

BENCH_POSTGRES_DSN overrides the administrative connection
(postgresql://postgres@127.0.0.1:5432/postgres); throwaway databases live on the same server.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import asyncpg

from userdir import migrations
from userdir.db import create_engine

ROOT = Path(__file__).resolve().parents[1]
ADMIN_DSN = os.environ.get("BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
READY_TIMEOUT = 30.0  # seconds for a server to answer after it is started
STOP_TIMEOUT = 15.0  # seconds of graceful stop after SIGTERM before SIGKILL


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_name() -> str:
    """A fresh name for a throwaway database; generated, so safe to quote into DDL."""
    return f"userdir_bench_{uuid.uuid4().hex[:8]}"


def dsn(name: str) -> str:
    """The asyncpg DSN of database `name` on the administrative connection's server."""
    return f"{ADMIN_DSN.rsplit('/', 1)[0]}/{name}"


def sqlalchemy_url(name: str) -> str:
    """The SQLAlchemy URL (asyncpg driver) of database `name`, as DATABASE_URL takes it."""
    return dsn(name).replace("postgresql://", "postgresql+asyncpg://", 1)


async def admin(sql: str) -> None:
    """Run one statement on the administrative connection (CREATE/DROP DATABASE)."""
    conn = await asyncpg.connect(ADMIN_DSN, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def migrate(url: str) -> None:
    """Bring the database at SQLAlchemy `url` to the latest schema revision."""
    engine = create_engine(url)
    try:
        await migrations.upgrade(engine)
    finally:
        await engine.dispose()


async def create_database(name: str) -> str:
    """Create and migrate database `name`; return its SQLAlchemy URL."""
    await admin(f'CREATE DATABASE "{name}"')  # generated name, never input
    url = sqlalchemy_url(name)
    await migrate(url)
    return url


async def drop_database(name: str) -> None:
    """Drop database `name`, disconnecting whatever still uses it."""
    await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@asynccontextmanager
async def database(name: str | None = None) -> AsyncIterator[str]:
    """A migrated throwaway database for the block; yields its SQLAlchemy URL."""
    name = name or database_name()
    try:
        yield await create_database(name)
    finally:
        await drop_database(name)


def wait_ready(process: subprocess.Popen[bytes], url: str, timeout: float = READY_TIMEOUT) -> None:
    """Poll `url` until it answers 2xx; fail early if `process` exits meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def stop(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM (the server's graceful stop), then SIGKILL after `timeout` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def running(
    args: Sequence[str], ready_url: str, env: Mapping[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `args` (a Python module or script) in the block, once `ready_url` answers."""
    process = subprocess.Popen([sys.executable, *args], env={**os.environ, **(env or {})}, cwd=ROOT)
    try:
        wait_ready(process, ready_url)
        yield process
    finally:
        stop(process)


@contextmanager
def server(
    database_url: str, args: Sequence[str] = (), **env: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`userdir serve *args` on a free 127.0.0.1 port with `database_url` and extra environment
    `env`, for the block; yields its base URL and process once /healthz answers."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    environ = {
        "DATABASE_URL": database_url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
        **env,
    }
    with running(["-m", "userdir.cli", "serve", *args], f"{base}/healthz", environ) as process:
        yield base, process


@contextmanager
def serve(database_url: str, **env: str) -> Iterator[str]:
    """`userdir serve` for the block (see `server`); yields its base URL."""
    with server(database_url, **env) as (base, _):
        yield base
