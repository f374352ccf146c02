"""`userdir serve --workers N`: real supervisor and worker processes on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.processes import (
    ServerProcess,
    get_status,
    running_server,
    users_table_locked,
)
from userdir.workers import Backoff

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
ACCESS = r"\[(\d+)\] INFO userdir\.access: "
slow = pytest.mark.slow


def test_backoff_doubles_while_workers_die_young_and_resets_after_a_stable_run() -> None:
    backoff = Backoff(first=0.5, cap=4.0, stable_after=10.0)
    assert [backoff.delay(uptime=1.0) for _ in range(6)] == [0.0, 0.5, 1.0, 2.0, 4.0, 4.0]
    assert backoff.delay(uptime=10.0) == 0.0  # this one had stayed up: start afresh
    assert backoff.delay(uptime=0.1) == 0.5


async def all_serving(server: ServerProcess, count: int) -> list[int]:
    await server.wait_for(rf"{count} workers serving")
    pids = server.worker_pids()
    assert len(set(pids)) == count and server.process.pid not in pids
    return pids


async def load(base: str, until: asyncio.Event, clients: int = 4) -> Counter[str]:
    """Clients requesting back to back until `until` is set; counts outcomes by status/error.

    Half reuse keep-alive connections, half open a fresh connection per request."""
    outcomes: Counter[str] = Counter()

    async def client(fresh: bool) -> None:
        connector = aiohttp.TCPConnector(force_close=fresh)
        async with aiohttp.ClientSession(connector=connector) as session:
            while not until.is_set():
                try:
                    outcomes[str(await get_status(session, f"{base}/users?pagination=5"))] += 1
                except aiohttp.ClientError as exc:
                    outcomes[type(exc).__name__] += 1

    await asyncio.gather(*(client(fresh=i % 2 == 0) for i in range(clients)))
    return outcomes


async def served_by(server: ServerProcess, pids: set[int], timeout: float = 60.0) -> None:
    """Fresh connections until each of `pids` has answered one (the kernel picks the worker)."""
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session, asyncio.timeout(timeout):
        while not pids <= {int(m.group(1)) for m in server.matches(ACCESS)}:
            statuses = await asyncio.gather(
                *(get_status(session, f"{server.base}/restaurant/") for _ in range(8))
            )
            assert set(statuses) == {200}


@slow
@SQLITE_ONLY
async def test_two_workers_serve_and_a_killed_one_is_replaced_while_the_other_answers(
    database_url: str,
) -> None:
    # The option wins over the environment.
    async with running_server(database_url, "--workers", "2", WORKERS="1") as server:
        victim, survivor = await all_serving(server, 2)
        await served_by(server, {victim, survivor})  # both answer, told apart by their pid
        assert server.pids() == {server.process.pid, victim, survivor}  # on every line
        assert len(server.matches(r"serving on http://127\.0\.0\.1:")) == 2

        until = asyncio.Event()
        outcomes = asyncio.create_task(load(server.base, until))
        await server.wait_for(ACCESS, count=40)
        os.kill(victim, signal.SIGKILL)
        await server.wait_for(rf"worker {victim} exited with code -9 after .*: replacing it")
        await server.wait_for(r"worker \d+ serving", count=3)
        until.set()
        counted = await outcomes
        assert set(counted) == {"200"}, counted
        replacement = server.worker_pids()[2]
        assert replacement not in (victim, survivor)
        await served_by(server, {replacement, survivor})
        server.process.send_signal(signal.SIGTERM)
        assert await server.exit_code(timeout=30) == 0


@slow
@SQLITE_ONLY
async def test_sighup_replaces_every_worker_without_failing_a_request(database_url: str) -> None:
    async with running_server(database_url, "--workers", "2") as server:
        old = await all_serving(server, 2)
        until = asyncio.Event()
        outcomes = asyncio.create_task(load(server.base, until))
        await server.wait_for(ACCESS, count=20)
        server.process.send_signal(signal.SIGHUP)
        await server.wait_for(r"reload done")
        for pid in old:
            await server.wait_for(rf"worker {pid} retired")
        new = server.worker_pids()[2:]
        assert len(new) == 2 and not set(new) & set(old)
        await served_by(server, set(new))
        until.set()
        counted = await outcomes
        server.process.send_signal(signal.SIGTERM)
        assert await server.exit_code(timeout=30) == 0
    assert set(counted) == {"200"}, counted  # no connection error, no non-2xx
    assert counted["200"] > 50
    assert "Traceback" not in server.log


@slow
@SQLITE_ONLY  # test_server.py drains on both databases; here it is the forwarding that counts
@pytest.mark.usefixtures("sample")
async def test_sigterm_lets_each_worker_finish_its_slow_request_then_exits_0(
    database_url: str, engine: AsyncEngine
) -> None:
    async with running_server(database_url, "--workers", "2") as server:
        await all_serving(server, 2)
        async with aiohttp.ClientSession() as session:
            async with users_table_locked(engine):
                request = session.get(f"{server.base}/users?type=Organization")
                in_flight = asyncio.create_task(request)
                await asyncio.sleep(0.5)  # the request is now waiting on the lock
                assert not in_flight.done()
                server.process.send_signal(signal.SIGTERM)
                await server.wait_for(r"shutting down", count=2)
                assert server.process.returncode is None, "exited while a request was in flight"
                with pytest.raises(aiohttp.ClientConnectionError):  # no longer accepting
                    async with aiohttp.ClientSession() as fresh:
                        await fresh.get(f"{server.base}/restaurant/")
            response = await asyncio.wait_for(in_flight, 15)
            async with response:
                assert response.status == 200
                assert len(await response.json()) == 16
        assert await server.exit_code(timeout=30) == 0
    assert "all workers stopped" in server.log


@slow
@SQLITE_ONLY
async def test_workers_stop_by_themselves_when_the_supervisor_is_killed(database_url: str) -> None:
    async with running_server(database_url, "--workers", "2") as server:
        await all_serving(server, 2)
        server.process.kill()
        await server.wait_for(r"the supervisor is gone: stopping", count=2, timeout=30)
        await server.wait_for(r"\] INFO userdir\.server: stopped$", count=2, timeout=30)
        await server.wait_closed(timeout=30)  # the last worker has exited: the log pipe ends


@slow
async def test_a_worker_that_cannot_start_stops_the_supervisor_with_its_error() -> None:
    unreachable = "postgresql+asyncpg://postgres@127.0.0.1:1/none"
    async with running_server(unreachable, "--workers", "2") as server:
        await server.wait_for(r"exited with code 1 before serving: stopping")
        loop = asyncio.get_running_loop()
        failed = loop.time()
        code = await server.exit_code(timeout=30)
        assert loop.time() - failed < 10.0  # the other worker is stopped, not waited for
    assert code == 1, server.log
    assert server.matches(r"^userdir: \[Errno 111\] Connection refused"), server.log  # its error
    assert server.matches(r"worker \d+ exited with code 1 before serving: stopping")
    assert not server.matches(r"workers serving")


@slow
async def test_reset_db_runs_once_in_the_supervisor_before_the_workers(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    async with running_server(url, "--workers", "2", "--reset-db") as server:
        await all_serving(server, 2)
        resets = server.matches(r"\[(\d+)\] .*database reset and sample data loaded")
        assert [int(m.group(1)) for m in resets] == [server.process.pid]
        async with aiohttp.ClientSession() as session:
            assert await get_status(session, f"{server.base}/users/mojombo") == 200


@slow
@SQLITE_ONLY
async def test_one_worker_is_the_single_process_server(database_url: str) -> None:
    async with running_server(database_url, "--workers", "1") as server:
        await server.wait_for(r"serving on http://127\.0\.0\.1:")
        pid = server.process.pid
        assert Path(f"/proc/{pid}/task/{pid}/children").read_text().split() == []
        assert server.pids() == set()  # no pid in the log lines: only one process writes
        assert not server.matches("workers")


def test_an_invalid_worker_count_is_a_configuration_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "userdir.cli", "serve", "--workers", "lots"],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("userdir: configuration error: WORKERS='lots'")
