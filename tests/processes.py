"""`userdir serve` as a real process on 127.0.0.1, its log read line by line as it is written.

Every process a test starts is gone when its `running_server` block ends, workers included
(they live in process groups of their own), also when the test fails.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import socket
import sqlite3
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from pathlib import Path

import aiohttp
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

START_TIMEOUT = 90.0  # a loaded 2-core machine takes seconds to import the app per process
PID = re.compile(r"^\S+ \S+ \[(\d+)\] ")


def free_port() -> int:
    """A free port below the ephemeral range (32768+), where the kernel picks client ports."""
    for _ in range(100):
        port = random.randrange(20000, 32768)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port in 20000..32767")


class ServerProcess:
    def __init__(self, process: asyncio.subprocess.Process, port: int) -> None:
        self.process = process
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.lines: list[str] = []
        self._more = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            async with self._more:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self._more.notify_all()
        async with self._more:
            self._more.notify_all()

    @property
    def log(self) -> str:
        return "\n".join(self.lines)

    def matches(self, pattern: str) -> list[re.Match[str]]:
        return [m for line in self.lines if (m := re.search(pattern, line))]

    async def wait_for(self, pattern: str, count: int = 1, timeout: float = START_TIMEOUT) -> None:
        """Until `count` log lines match `pattern`; fails with the log when it does not happen."""

        def enough() -> bool:
            return len(self.matches(pattern)) >= count or self._reader.done()

        try:
            async with asyncio.timeout(timeout), self._more:
                await self._more.wait_for(enough)
        except TimeoutError:
            pass
        if len(self.matches(pattern)) < count:
            raise AssertionError(f"no {count} line(s) matching {pattern!r} in:\n{self.log}")

    def pids(self) -> set[int]:
        """Every process that wrote a log line with its pid."""
        return {int(m.group(1)) for line in self.lines if (m := PID.match(line))}

    def worker_pids(self, pattern: str = r"worker (\d+) serving") -> list[int]:
        return [int(m.group(1)) for m in self.matches(pattern)]

    async def exit_code(self, timeout: float) -> int:
        return await asyncio.wait_for(self.process.wait(), timeout)

    async def wait_closed(self, timeout: float) -> None:
        """Until every process writing the log (workers too) has exited."""
        await asyncio.wait_for(asyncio.shield(self._reader), timeout)

    async def stop(self) -> None:
        """SIGKILL whatever is still running: the parent and every worker it logged."""
        if self.process.returncode is None:
            self.process.kill()
        for pid in self.pids() - {self.process.pid}:
            with suppress(OSError):
                if b"userdir.cli" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(pid, signal.SIGKILL)
        with suppress(TimeoutError):
            await asyncio.wait_for(self.process.wait(), 30)
        # Workers hold the pipe too: it ends when the last of them is gone.
        with suppress(TimeoutError):
            await asyncio.wait_for(self._reader, 30)


@asynccontextmanager
async def running_server(
    database_url: str,
    *args: str,
    prefix: Sequence[str] = (),
    **env: str,
) -> AsyncIterator[ServerProcess]:
    """`userdir serve *args` on a free port of 127.0.0.1 (not yet ready: use wait_for)."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        *prefix,
        *(sys.executable, "-m", "userdir.cli", "serve", "--port", str(port), *args),
        env={
            **os.environ,
            "DATABASE_URL": database_url,
            "CACHE_TTL": "0",
            "SHUTDOWN_TIMEOUT": "20",
            **env,
        },
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    server = ServerProcess(process, port)
    try:
        yield server
    finally:
        await server.stop()


async def wait_until_serving(server: ServerProcess) -> None:
    await server.wait_for(r"serving on http://127\.0\.0\.1:")


async def get_status(session: aiohttp.ClientSession, url: str) -> int:
    async with session.get(url) as response:
        await response.read()
        return response.status


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
    locker = sqlite3.connect(path, isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")  # readers wait (busy_timeout) while this is held
        yield
        locker.execute("COMMIT")
    finally:
        locker.close()
