"""The real server process: start, serve real HTTP, stop gracefully on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("sample")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def server_process(database_url: str, port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PORT": str(port),
        "CACHE_TTL": "0",
        "SHUTDOWN_TIMEOUT": "20",
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "userdir.cli", "serve"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)


async def wait_until_serving(session: aiohttp.ClientSession, base: str) -> None:
    for _ in range(200):
        try:
            async with session.get(f"{base}/restaurant/") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError("the server did not start within 10 s")


@asynccontextmanager
async def users_table_locked(engine: AsyncEngine) -> AsyncIterator[None]:
    """Hold a lock that makes any read of `users` wait until the block ends."""
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn, conn.begin():
            await conn.execute(text("LOCK TABLE users IN ACCESS EXCLUSIVE MODE"))
            yield
        return
    path = make_url(str(engine.url)).database
    assert path is not None
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN EXCLUSIVE")  # readers wait (busy_timeout) while this is held
        yield
        conn.execute("COMMIT")
    finally:
        conn.close()


async def test_sigterm_lets_the_slow_request_finish_then_exits_0(
    database_url: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "server.log"
    with server_process(database_url, port, log_path) as process:
        async with aiohttp.ClientSession() as session:
            await wait_until_serving(session, base)
            async with users_table_locked(engine):
                slow = asyncio.create_task(session.get(f"{base}/users?type=Organization"))
                await asyncio.sleep(0.5)  # the request is now waiting on the lock
                assert not slow.done()
                process.send_signal(signal.SIGTERM)
                await asyncio.sleep(0.5)
                assert process.poll() is None, "exited while a request was in flight"
                with pytest.raises(aiohttp.ClientConnectionError):
                    async with aiohttp.ClientSession() as fresh:
                        await fresh.get(f"{base}/restaurant/")
            response = await asyncio.wait_for(slow, 15)
            async with response:
                assert response.status == 200
                users = await response.json()
        assert len(users) == 16
        assert process.wait(timeout=15) == 0
    log = log_path.read_text()
    assert "serving on http://127.0.0.1:" in log
    assert '"GET /users?type=Organization HTTP/1.1" 200' in log  # the access log line
    assert "stopped" in log
