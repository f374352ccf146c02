"""Redis missing when the service starts: `userdir serve` in a process of its own, its log read
as an operator would. It starts, says so once (no traceback), serves from the database, and
uses Redis once it appears. Run with -s to see the measured figures (FIGURES lines)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import pytest

from tests.fault_app import figures
from tests.servers.ports import free_port
from tests.servers.redis import RedisServer

pytestmark = pytest.mark.slow


@contextmanager
def serving_process(environ: Mapping[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`userdir serve` in a child process, its output in `log`; killed when the block ends
    early, however it ends."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "userdir.cli", "serve"],
            env={**os.environ, "LOG_LEVEL": "INFO", **environ},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)


async def _until_serving(
    session: aiohttp.ClientSession, url: str, process: subprocess.Popen[bytes]
) -> None:
    async with asyncio.timeout(30):  # start-up imports take seconds on a busy machine
        while process.poll() is None:
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"the server exited with {process.returncode}")


def _warnings(log: Path) -> list[str]:
    return [
        line for line in log.read_text().splitlines() if " WARNING " in line or " ERROR " in line
    ]


async def _x_cache(session: aiohttp.ClientSession, url: str) -> str:
    async with session.get(url) as response:
        await response.read()
        assert response.status == 200, response.status
        return response.headers["X-Cache"]


async def test_redis_down_at_start_up_is_one_warning_then_picked_up(
    fault_database: str, tmp_path: Path
) -> None:
    redis = RedisServer()  # its port, not started yet
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    environ = {"DATABASE_URL": fault_database, "CACHE_URL": redis.url, "PORT": str(port)}
    try:
        with serving_process(environ, log) as process:
            async with aiohttp.ClientSession() as session:
                await _until_serving(session, f"{base}/livez", process)
                uncached = [await _x_cache(session, f"{base}/restaurant/1/item") for _ in range(3)]
                while_missing = _warnings(log)
                started_at = time.monotonic()
                await asyncio.to_thread(redis.start)
                async with asyncio.timeout(20):  # the breaker's probe backs off to a few s
                    while await _x_cache(session, f"{base}/restaurant/1/item") != "HIT":
                        await asyncio.sleep(0.1)
                picked_up = time.monotonic() - started_at
            process.send_signal(signal.SIGTERM)
            exit_code = process.wait(timeout=20)
    finally:
        redis.close()
    warnings = _warnings(log)
    shown = figures(
        "redis down at start-up",
        x_cache_before=uncached,
        warning_lines_while_missing=len(while_missing),
        picked_up_after_s=picked_up,
        warning_lines=len(warnings),
        exit_code=exit_code,
    )
    assert uncached == ["BYPASS"] * 3, shown
    assert len(while_missing) == 1, while_missing
    assert "cache (redis) unavailable (ConnectionError" in while_missing[0], while_missing
    assert "Traceback" not in log.read_text(), log.read_text()
    assert warnings == [*while_missing, warnings[-1]], warnings
    assert "cache (redis) is back" in warnings[-1], warnings
    assert exit_code == 0, shown
