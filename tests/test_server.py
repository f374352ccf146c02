"""The real server process: start, serve real HTTP, stop gracefully, bound hostile clients."""

from __future__ import annotations

import asyncio
import json
import re
import signal
from contextlib import suppress
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.processes import (
    ServerProcess,
    get_status,
    running_server,
    users_table_locked,
    wait_until_serving,
)

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("sample")]
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
SQLITE_BUSY_TIMEOUT = 5.0  # db.py's PRAGMA busy_timeout


async def request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str = "/restaurant/"
) -> tuple[str, dict[str, str], bytes]:
    """One HTTP/1.1 request on a raw connection: status line, headers, body."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    await writer.drain()
    head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)).decode()
    status, *lines = head.strip().split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    body = await reader.readexactly(int(headers["content-length"]))
    return status, headers, body


async def graceful_stop(database_url: str, engine: AsyncEngine, sig: signal.Signals) -> str:
    """A slow request in flight, then `sig`: it completes 200 and the server exits 0."""
    async with running_server(database_url) as server:
        await wait_until_serving(server)
        idle_reader, idle_writer = await asyncio.open_connection("127.0.0.1", server.port)
        assert (await request(idle_reader, idle_writer))[0] == "HTTP/1.1 200 OK"
        async with aiohttp.ClientSession() as session:
            async with users_table_locked(engine):
                slow = asyncio.create_task(session.get(f"{server.base}/users?type=Organization"))
                await asyncio.sleep(0.5)  # the request is now waiting on the lock
                assert not slow.done()
                server.process.send_signal(sig)
                await server.wait_for("shutting down")
                # An idle keep-alive connection closes at once, not when the drain ends.
                assert await asyncio.wait_for(idle_reader.read(), 2) == b""
                idle_writer.close()
                assert server.process.returncode is None, "exited while a request was in flight"
                with pytest.raises(aiohttp.ClientConnectionError):
                    async with aiohttp.ClientSession() as fresh:
                        await fresh.get(f"{server.base}/restaurant/")
            response = await asyncio.wait_for(slow, 15)
            async with response:
                assert response.status == 200
                users = await response.json()
        assert len(users) == 16
        assert await server.exit_code(timeout=15) == 0
    return server.log


async def test_sigterm_lets_the_slow_request_finish_then_exits_0(
    database_url: str, engine: AsyncEngine
) -> None:
    log = await graceful_stop(database_url, engine, signal.SIGTERM)
    assert "serving on http://127.0.0.1:" in log
    assert '"GET /users?type=Organization HTTP/1.1" 200' in log  # the access log line
    assert "stopped" in log


@SQLITE_ONLY
async def test_sigint_stops_as_gracefully_as_sigterm(
    database_url: str, engine: AsyncEngine
) -> None:
    log = await graceful_stop(database_url, engine, signal.SIGINT)
    assert '"GET /users?type=Organization HTTP/1.1" 200' in log
    assert "KeyboardInterrupt" not in log


async def cut_off(database_url: str, engine: AsyncEngine, sig: signal.Signals) -> None:
    """A request still running SHUTDOWN_TIMEOUT after `sig` is cut off, and the server exits
    0 within the bound."""
    timeout = 2.0
    async with running_server(database_url, SHUTDOWN_TIMEOUT=str(int(timeout))) as server:
        await wait_until_serving(server)
        loop = asyncio.get_running_loop()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        async with users_table_locked(engine):
            # A raw connection: aiohttp's client would retry the cut-off GET on its own.
            slow = asyncio.create_task(request(reader, writer, "/users?type=User"))
            await asyncio.sleep(0.5)  # the request is now waiting on the lock, which stays held
            signalled = loop.time()
            server.process.send_signal(sig)
            with pytest.raises(asyncio.IncompleteReadError):  # closed without an answer
                await asyncio.wait_for(slow, 15)
            writer.close()
            await server.wait_for(r"\bstopped$", timeout=15)
            stopped = loop.time() - signalled
            assert await server.exit_code(timeout=30) == 0
            exited = loop.time() - signalled
    assert "cutting off 1 request(s) still running after 2s" in server.log
    assert "KeyboardInterrupt" not in server.log
    # The server's own bound is the timeout, then a second at most for cancelled requests to
    # unwind; the interpreter's exit follows (2 s on a loaded 2-core machine). SQLite's lock
    # holds every reader, the app's data-version watcher too, and its driver's thread cannot
    # be interrupted: cleanup and exit wait until the locked reads give up at busy_timeout.
    held = timeout if engine.dialect.name == "postgresql" else SQLITE_BUSY_TIMEOUT
    assert stopped < held + 1.5, server.log
    assert exited < held + 4.0, server.log


async def test_a_request_longer_than_shutdown_timeout_is_cut_off_in_time(
    database_url: str, engine: AsyncEngine
) -> None:
    await cut_off(database_url, engine, signal.SIGTERM)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_sigint_cuts_off_a_request_longer_than_shutdown_timeout_too(
    database_url: str, engine: AsyncEngine
) -> None:
    await cut_off(database_url, engine, signal.SIGINT)


async def slow_head(port: int, limit: float) -> float:
    """Send a request head one byte a second; seconds until the server closed the connection."""
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    opened = loop.time()
    head = b"GET /restaurant/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"s" * 1000
    try:
        for byte in head:
            writer.write(bytes([byte]))
            await writer.drain()
            with suppress(TimeoutError):
                received = await asyncio.wait_for(reader.read(1024), 1.0)
                assert received == b"", f"the server answered a partial head: {received!r}"
                return loop.time() - opened
            if loop.time() - opened > limit:
                break
    except ConnectionError:
        return loop.time() - opened
    finally:
        writer.close()
        with suppress(ConnectionError):
            await writer.wait_closed()
    raise AssertionError(f"a slow head was still open after {limit:.0f}s")


async def slow_heads_are_closed(server: ServerProcess, keepalive: float) -> None:
    await wait_until_serving(server)
    slow = [asyncio.create_task(slow_head(server.port, 40.0)) for _ in range(100)]
    statuses: list[int] = []
    connector = aiohttp.TCPConnector(force_close=True)  # a fresh connection for every request
    async with aiohttp.ClientSession(connector=connector) as session:
        while not all(task.done() for task in slow):
            statuses.append(await get_status(session, f"{server.base}/restaurant/"))
            await asyncio.wait(slow, timeout=0.2, return_when=asyncio.FIRST_EXCEPTION)
    closed_after = await asyncio.gather(*slow)
    assert statuses and set(statuses) == {200}, statuses
    assert len(statuses) >= keepalive  # the normal client was served all along
    assert all(keepalive - 1.0 <= t <= 40.0 for t in closed_after), sorted(closed_after)


@SQLITE_ONLY
async def test_slow_request_heads_are_closed_at_the_default_keepalive_timeout(
    database_url: str,
) -> None:
    async with running_server(database_url) as server:
        await slow_heads_are_closed(server, keepalive=15.0)


@SQLITE_ONLY
async def test_slow_request_heads_are_closed_at_a_short_keepalive_timeout(
    database_url: str,
) -> None:
    async with running_server(database_url, KEEPALIVE_TIMEOUT="2") as server:
        await slow_heads_are_closed(server, keepalive=2.0)


@SQLITE_ONLY
async def test_an_idle_keepalive_connection_is_closed_after_the_timeout(database_url: str) -> None:
    async with running_server(database_url, KEEPALIVE_TIMEOUT="2") as server:
        await wait_until_serving(server)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            status, headers, _ = await request(reader, writer)
            assert status == "HTTP/1.1 200 OK"
            assert headers.get("connection", "keep-alive").lower() == "keep-alive"
            answered = asyncio.get_running_loop().time()
            assert await asyncio.wait_for(reader.read(), 10) == b""  # closed by the server
            idle = asyncio.get_running_loop().time() - answered
        finally:
            writer.close()
    assert 1.5 <= idle <= 5.0, idle


@SQLITE_ONLY
async def test_a_connection_above_max_connections_gets_a_quick_503(database_url: str) -> None:
    async with running_server(database_url, MAX_CONNECTIONS="5", KEEPALIVE_TIMEOUT="60") as server:
        await wait_until_serving(server)
        held = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(5)]
        try:
            for reader, writer in held:  # answered, so counted, and kept open (keep-alive)
                assert (await request(reader, writer))[0] == "HTTP/1.1 200 OK"
            loop = asyncio.get_running_loop()
            started = loop.time()
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            status, headers, body = await request(reader, writer)
            assert loop.time() - started < 1.0
            assert status == "HTTP/1.1 503 Service Unavailable"
            assert (headers["retry-after"], headers["connection"]) == ("1", "close")
            assert headers["content-type"] == "application/problem+json"
            assert json.loads(body)["status"] == 503
            assert await asyncio.wait_for(reader.read(), 5) == b""
            writer.close()

            held.pop()[1].close()  # one client leaves: the next one is served again
            deadline = loop.time() + 10
            while True:
                reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
                status = (await request(reader, writer))[0]
                writer.close()
                if status == "HTTP/1.1 200 OK" or loop.time() > deadline:
                    break
                await asyncio.sleep(0.05)  # the server has yet to see the close
            assert status == "HTTP/1.1 200 OK"
        finally:
            for _, held_writer in held:
                held_writer.close()
    assert not re.search(r'"GET /restaurant/ HTTP/1\.1" 503', server.log)  # never reached the app


@SQLITE_ONLY
async def test_the_soft_open_files_limit_is_raised_to_the_hard_limit(database_url: str) -> None:
    lowered = ("sh", "-c", 'ulimit -Sn 256 && exec "$0" "$@"')
    async with running_server(database_url, prefix=lowered) as server:
        await wait_until_serving(server)
        limits = Path(f"/proc/{server.process.pid}/limits").read_text()
        soft, hard = re.findall(r"Max open files\s+(\d+)\s+(\d+)", limits)[0]
        assert int(soft) == int(hard) > 256
        assert f"open files limit: soft 256 -> {hard} (hard {hard})" in server.log
