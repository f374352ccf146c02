"""The private servers fault tests build on: each starts, answers, and breaks on demand."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

import asyncpg
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from pytest_aiohttp import AiohttpServer
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests import services
from tests.helpers import eventually
from tests.servers import binaries, fixtures
from tests.servers.load import LoadGenerator, LoadResult, Sample, run_load
from tests.servers.nginx import NginxServer
from tests.servers.pgbouncer import PgBouncer, connect_args
from tests.servers.ports import HIGHEST, LOWEST, free_port
from tests.servers.postgres import PostgresCluster, fetchval
from tests.servers.process import ServerError
from tests.servers.redis import RedisServer
from tests.servers.standby import PostgresStandby

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# -- ports --------------------------------------------------------------------------------------


def test_free_port_is_below_the_ephemeral_range_and_free() -> None:
    port = free_port()
    assert LOWEST <= port <= HIGHEST < 32768
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port))


# -- missing programs ---------------------------------------------------------------------------


def _missing() -> None:
    binaries.find("no-such-server-program", "no-such-package")


def test_a_missing_program_skips_naming_its_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception, match="Debian package no-such-package"):
        fixtures.start("a private server", _missing)


def test_a_missing_program_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="CI=true requires it"):
        fixtures.start("a private server", _missing)


# -- PostgreSQL ---------------------------------------------------------------------------------


async def _execute(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def test_cluster_survives_stop_and_start_on_the_same_port(
    private_pg: PostgresCluster,
) -> None:
    port = private_pg.port
    assert await fetchval(private_pg.dsn(), "SHOW fsync") == "off"
    assert await fetchval(private_pg.dsn(), "SHOW port") == str(port)

    private_pg.stop()
    with pytest.raises(OSError):
        await asyncpg.connect(private_pg.dsn(), timeout=5)
    private_pg.start()
    private_pg.restart("immediate")  # no shutdown checkpoint: the start recovers

    assert private_pg.port == port
    assert await fetchval(private_pg.dsn(), "SELECT 1") == 1


async def test_killed_cluster_recovers_what_it_had_written(
    private_pg: PostgresCluster, private_pg_database: str
) -> None:
    dsn = private_pg.dsn(private_pg_database)
    conn = await asyncpg.connect(dsn)
    # synchronous_commit = off would let the commit sit in shared memory, lost with it.
    await conn.execute(
        "SET synchronous_commit = on; CREATE TABLE t (x int); INSERT INTO t VALUES (7)"
    )
    old_pid = private_pg.pid

    private_pg.kill()
    with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, OSError)):
        await conn.fetchval("SELECT 1")
    conn.terminate()
    private_pg.start()

    assert private_pg.pid != old_pid
    assert await fetchval(dsn, "SELECT x FROM t") == 7
    assert "automatic recovery in progress" in private_pg.log.read_text()


async def test_terminate_backends_drops_only_the_chosen_sessions(
    private_pg: PostgresCluster, private_pg_database: str
) -> None:
    dsn = private_pg.dsn(private_pg_database)
    victim = await asyncpg.connect(dsn, server_settings={"application_name": "victim"})
    bystander = await asyncpg.connect(dsn, server_settings={"application_name": "bystander"})
    try:
        assert private_pg.terminate_backends(private_pg_database, "victim") == 1
        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, OSError)):
            await victim.fetchval("SELECT 1")
        assert await bystander.fetchval("SELECT 1") == 1

        assert private_pg.terminate_backends(private_pg_database) == 1
        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, OSError)):
            await bystander.fetchval("SELECT 1")
    finally:
        victim.terminate()
        bystander.terminate()


def test_create_database_takes_only_plain_identifiers(private_pg_cluster: PostgresCluster) -> None:
    with pytest.raises(ValueError, match="identifier"):
        private_pg_cluster.create_database('x"; DROP DATABASE postgres; --')


async def test_standby_replicates_and_pause_holds_replay_back(
    private_pg: PostgresCluster, private_pg_database: str, private_pg_standby: PostgresStandby
) -> None:
    primary_dsn = private_pg.dsn(private_pg_database)
    standby_dsn = private_pg_standby.dsn(private_pg_database)
    assert private_pg_standby.port != private_pg.port
    await _execute(primary_dsn, "CREATE TABLE t (x int); INSERT INTO t VALUES (1)")
    private_pg_standby.wait_replayed()
    assert await fetchval(standby_dsn, "SELECT array_agg(x) FROM t") == [1]
    with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
        await _execute(standby_dsn, "INSERT INTO t VALUES (0)")

    private_pg_standby.pause_replay()
    await _execute(primary_dsn, "INSERT INTO t VALUES (2)")
    with pytest.raises(ServerError, match="replay"):
        private_pg_standby.wait_replayed(timeout=0.3)
    assert await fetchval(standby_dsn, "SELECT array_agg(x) FROM t") == [1]

    private_pg_standby.resume_replay()
    private_pg_standby.wait_replayed()
    assert await fetchval(standby_dsn, "SELECT array_agg(x ORDER BY x) FROM t") == [1, 2]


# -- PgBouncer ----------------------------------------------------------------------------------


async def test_pgbouncer_transaction_mode_carries_concurrent_sqlalchemy_transactions(
    private_pg: PostgresCluster, private_pg_database: str, private_pgbouncer: PgBouncer
) -> None:
    await _execute(private_pg.dsn(private_pg_database), "CREATE TABLE t (client int)")
    clients = 12
    engine = create_async_engine(
        private_pgbouncer.url(private_pg_database), connect_args=connect_args(), pool_size=clients
    )
    in_flight = peak = 0

    async def transaction(client: int) -> set[int]:
        nonlocal in_flight, peak
        async with engine.begin() as conn:
            in_flight += 1
            peak = max(peak, in_flight)
            pids = {(await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()}
            await conn.execute(text("INSERT INTO t VALUES (:client)"), {"client": client})
            await conn.execute(text("SELECT pg_sleep(0.02)"))
            pids.add((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())
            in_flight -= 1
        return pids

    try:
        per_transaction = await asyncio.gather(*(transaction(n) for n in range(clients)))
        rows = await fetchval(private_pg.dsn(private_pg_database), "SELECT count(*) FROM t")
    finally:
        await engine.dispose()

    assert all(len(pids) == 1 for pids in per_transaction)  # one server connection each
    assert len(set().union(*per_transaction)) <= 2  # default_pool_size
    assert peak > 2  # more client transactions open at once than server connections
    assert rows == clients


# -- Redis --------------------------------------------------------------------------------------


async def test_redis_pause_times_clients_out_and_resume_recovers(
    private_redis: RedisServer,
) -> None:
    client = aioredis.from_url(private_redis.url, socket_timeout=0.2)
    try:
        await client.set("k", "v")
        private_redis.pause()
        with pytest.raises(RedisTimeoutError):
            await client.get("k")
        private_redis.resume()
        assert await client.get("k") == b"v"

        private_redis.kill()
        with pytest.raises(RedisConnectionError):
            await client.get("k")
        private_redis.restart()
        assert await client.get("k") is None  # same port, nothing persisted
    finally:
        await client.aclose()


async def test_redis_with_noeviction_refuses_writes_when_full(
    redis_factory: Callable[..., RedisServer],
) -> None:
    server = redis_factory(maxmemory="2mb", maxmemory_policy="noeviction")
    client = aioredis.from_url(server.url, socket_timeout=2)
    value = b"x" * 100_000
    try:
        with pytest.raises(OutOfMemoryError):
            for n in range(100):  # 10 MB: five times the limit
                await client.set(f"k{n}", value)
        assert await client.get("k0") == value  # nothing was evicted
    finally:
        await client.aclose()


# -- nginx --------------------------------------------------------------------------------------


async def _app_server(aiohttp_server: AiohttpServer, handler: Handler) -> str:
    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    server = await aiohttp_server(app, host="127.0.0.1")
    return f"127.0.0.1:{server.port}"


async def test_nginx_proxies_to_an_app_and_reloads(
    nginx_factory: Callable[..., NginxServer], aiohttp_server: AiohttpServer
) -> None:
    async def echo(request: web.Request) -> web.Response:
        return web.Response(text=f"{request.path} via {request.headers.get('X-Via', '-')}")

    upstream = await _app_server(aiohttp_server, echo)
    location = f"location / {{ proxy_pass http://{upstream}; proxy_set_header X-Via nginx; }}"
    nginx = nginx_factory(f"server {{ listen 127.0.0.1:{{port}}; {location} }}")

    result = await run_load(f"{nginx.url}/hello", clients=1, requests=1)
    assert result.by_outcome() == {200: 1}

    async def logged() -> bool:  # nginx writes the line once the response has gone out
        return '"GET /hello HTTP/1.1" 200' in nginx.access_log()

    await eventually(logged)

    add_header = "add_header X-Cache RELOADED always;"
    nginx.reload(f"server {{ listen 127.0.0.1:{{port}}; {add_header} {location} }}")
    result = await run_load(f"{nginx.url}/again", clients=1, requests=1)
    assert result.header_values("X-Cache") == {"RELOADED": 1}

    with pytest.raises(ServerError, match="unknown directive"):
        nginx.reload("server { no_such_directive; }")
    assert (await run_load(nginx.url, clients=1, requests=1)).by_outcome() == {200: 1}


async def test_nginx_error_log_tells_why_the_upstream_failed(
    nginx_factory: Callable[..., NginxServer],
) -> None:
    dead = free_port()
    location = f"location / {{ proxy_pass http://127.0.0.1:{dead}; }}"
    nginx = nginx_factory(f"server {{ listen 127.0.0.1:{{port}}; {location} }}")
    result = await run_load(nginx.url, clients=1, requests=2)
    assert result.by_outcome() == {502: 2}
    assert "Connection refused" in nginx.error_log()


# -- the load generator -------------------------------------------------------------------------


async def test_load_counts_statuses_headers_and_failures(aiohttp_server: AiohttpServer) -> None:
    healthy_after = 10
    served = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal served
        served += 1
        if request.path == "/slow":
            await asyncio.Event().wait()  # until the client gives up and disconnects
        if request.path == "/unavailable" or served <= healthy_after:
            return web.Response(status=503, headers={"Retry-After": "1"})
        return web.Response(text="ok", headers={"X-Cache": "MISS"})

    base = f"http://{await _app_server(aiohttp_server, handler)}"

    sequential = await run_load(f"{base}/ok", clients=1, requests=15)
    assert [s.status for s in sequential.samples] == [503] * 10 + [200] * 5
    assert sequential.first_success_after(0) == sequential.samples[10]
    assert sequential.server_errors() == 10 and sequential.errors() == 0
    assert sequential.header_values("Retry-After") == {"1": 10}
    assert sequential.header_values("X-Cache") == {"MISS": 5}

    mixed = await run_load([f"{base}/ok", f"{base}/unavailable"], clients=4, requests=40)
    assert mixed.by_outcome() == {200: 20, 503: 20}

    refused = f"http://127.0.0.1:{free_port()}/"
    failing = await run_load([f"{base}/slow", refused], clients=2, requests=4, timeout=0.2)
    kinds = failing.error_kinds()
    assert failing.errors() == 4 and kinds["ClientConnectorError"] == 2
    assert sum(n for kind, n in kinds.items() if "Timeout" in kind) == 2
    assert 0.2 <= failing.max_latency() < 1


async def test_load_runs_for_a_bounded_time_and_can_be_watched(
    aiohttp_server: AiohttpServer,
) -> None:
    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    url = f"http://{await _app_server(aiohttp_server, ok)}/"
    load = LoadGenerator(url, clients=3, duration=0.5, timeout=0.5)
    task = asyncio.create_task(load.run())
    await load.wait_for_samples(3)
    assert load.elapsed() > 0 and not task.done()
    result = await task
    # The deadline, plus at most one request's timeout for the requests under way then.
    assert 0.5 <= result.duration < 0.5 + 0.5 + 0.5  # and some slack for a busy machine
    assert result.successes() == len(result) >= 3
    with pytest.raises(RuntimeError, match="ended after"):
        await load.wait_for_samples(len(result) + 1)


def test_load_is_only_sent_to_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        LoadGenerator("http://10.1.2.3/", requests=1)
    with pytest.raises(ValueError, match="duration"):
        LoadGenerator("http://127.0.0.1:1/")


def test_load_result_queries() -> None:
    samples = tuple(
        Sample("u", started=n / 10, latency=(n + 1) / 100, status=status, error=error)
        for n, (status, error) in enumerate(
            [(503, None), (None, "TimeoutError"), (200, None), (500, None), (200, None)]
        )
    )
    result = LoadResult(samples, duration=1.0)
    assert result.by_outcome() == {503: 1, "TimeoutError": 1, 200: 2, 500: 1}
    assert (result.server_errors(), result.errors(), result.successes()) == (2, 1, 2)
    assert result.max_latency() == 0.05
    assert (result.percentile(50), result.percentile(100)) == (0.03, 0.05)
    assert result.first_success_after(0.25) == samples[4]
    assert result.first_success_after(0.5) is None
    assert len(result.between(0.1, 0.3)) == 2
    with pytest.raises(ValueError):
        LoadResult((), 0.0).percentile(50)
