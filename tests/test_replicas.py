"""Read replicas on a private primary and its streaming standby: reads go to the standby while
it keeps up, a write is seen at once through the API, a stopped or lagging standby is left out
without a failed read, and a response built on a lagging standby is never cached as newer than
its rows. Run with -s to see the measured figures (FIGURES lines)."""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from collections import Counter
from collections.abc import Sequence

import aiohttp
import pytest
from sqlalchemy.engine import make_url

from tests.fault_app import API_TOKEN, ServeApp, Served, figures
from tests.servers.load import LoadGenerator, run_load
from tests.servers.postgres import PostgresCluster, fetchval
from tests.servers.redis import RedisServer
from tests.servers.standby import PostgresStandby
from userdir.config import Settings
from userdir.db import Database, Replica
from userdir.invalidation import LISTENER
from userdir.keys import DATABASE

pytestmark = pytest.mark.slow

CHECK_INTERVAL = 0.05  # REPLICA_CHECK_INTERVAL: seconds between lag checks
MAX_LAG = 1.0  # REPLICA_MAX_LAG of most tests
READS = ["/users/mojombo", "/users?type=Organization", "/restaurant/1/item", "/restaurant/1"]
WRITES = 50
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def _name(database_url: str) -> str:
    name = make_url(database_url).database
    assert name is not None
    return name


def _environ(database_url: str, standby: PostgresStandby, **more: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "DATABASE_REPLICA_URLS": standby.url(_name(database_url)),
        "REPLICA_MAX_LAG": str(MAX_LAG),
        "REPLICA_CHECK_INTERVAL": str(CHECK_INTERVAL),
        "DB_CONNECT_TIMEOUT": "1",
        "CACHE_TTL": "0",  # every read reaches a database
        **more,
    }


def _replica(served: Served) -> Replica:
    (replica,) = served.app[DATABASE].replicas
    return replica


async def _until(condition: object, timeout: float, what: str) -> float:
    """Poll a condition (a callable) until it holds; the seconds it took."""
    assert callable(condition)
    began = time.monotonic()
    while not condition():
        if time.monotonic() - began > timeout:
            raise AssertionError(f"{what}: not within {timeout} s")
        await asyncio.sleep(0.01)
    return time.monotonic() - began


async def _transactions(cluster: PostgresCluster, database: str) -> int:
    """Transactions run in the database, as the server's own statistics count them (a read
    ends with a rollback: there is nothing to commit)."""
    sql = "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1"
    return int(await fetchval(cluster.dsn(), sql, database))


async def _sessions(cluster: PostgresCluster, database: str) -> int:
    """The app's sessions there, but for its change channel (which lives as long as the app)."""
    sql = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()"
        " AND application_name <> $2"
    )
    return int(await fetchval(cluster.dsn(), sql, database, LISTENER))


async def _flushed(clusters: Sequence[PostgresCluster], database: str) -> None:
    """Until the app's sessions have exited: a session hands its statistics over when it
    exits (while it lives, only about every 10 s)."""
    for cluster in clusters:
        for _ in range(500):
            if await _sessions(cluster, database) == 0:
                break
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.3)


async def _pause_replay(standby: PostgresStandby, primary_dsn: str) -> None:
    """Hold the standby's replay back, right after it replayed a transaction: its lag is then
    measured from that transaction's commit time (before it replays any, it cannot tell)."""
    await fetchval(primary_dsn, "SELECT txid_current()")  # a transaction that commits
    await asyncio.to_thread(standby.wait_replayed)
    await asyncio.to_thread(standby.pause_replay)


async def _serve(serve_app: ServeApp, environ: dict[str, str]) -> tuple[Served, Replica]:
    """The app started, once its lag check has put the replica in use."""
    served = await serve_app(environ)
    replica = _replica(served)
    await _until(lambda: replica.healthy, 5, "the replica in use")
    return served, replica


async def _get_json(session: aiohttp.ClientSession, url: str) -> tuple[int, object]:
    async with session.get(url) as response:
        return response.status, await response.json(content_type=None)


async def _get_object(session: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, object]]:
    """A JSON object, such as one restaurant or the readiness report."""
    status, body = await _get_json(session, url)
    assert isinstance(body, dict), body
    return status, body


async def test_reads_are_served_by_the_replica(
    private_pg: PostgresCluster,
    fault_database: str,
    private_pg_standby: PostgresStandby,
    serve_app: ServeApp,
) -> None:
    database = _name(fault_database)
    served, _ = await _serve(serve_app, _environ(fault_database, private_pg_standby))
    on_replica, on_primary = (
        await _transactions(private_pg_standby, database),
        await _transactions(private_pg, database),
    )

    result = await run_load([served.url(path) for path in READS], clients=8, requests=400)
    await served.app[DATABASE].dispose()  # the sessions exit: their statistics are flushed
    await _flushed([private_pg_standby, private_pg], database)

    assert result.by_outcome() == {200: 400}
    replica_reads = await _transactions(private_pg_standby, database) - on_replica
    primary_reads = await _transactions(private_pg, database) - on_primary
    share = replica_reads / (replica_reads + primary_reads)
    figures(
        "replica read share",
        requests=400,
        replica=replica_reads,
        primary=primary_reads,
        share=share,
    )
    # Every request is one read transaction; the lag checks add a few on the replica, the
    # change channel's heartbeat a few on the primary.
    assert replica_reads >= 400
    assert share >= 0.95


async def test_a_write_is_visible_through_the_api_at_once(
    fault_database: str, private_pg_standby: PostgresStandby, serve_app: ServeApp
) -> None:
    """Through the process that wrote and through another one (which hears of the write by
    NOTIFY): the new name shows within REPLICA_MAX_LAG, in practice within milliseconds."""
    environ = _environ(fault_database, private_pg_standby, CACHE_TTL="20")
    (writer, _), (other, _) = await _serve(serve_app, environ), await _serve(serve_app, environ)
    delays: dict[str, list[float]] = {"own": [], "other": []}
    async with aiohttp.ClientSession(headers=AUTH) as http:

        async def seen(kind: str, served: Served, name: str, written: float) -> None:
            while True:
                status, body = await _get_object(http, served.url("/restaurant/1"))
                assert status == 200
                if kind == "own":  # the process that wrote shows it in its first answer
                    assert body["name"] == name
                if body["name"] == name:
                    delays[kind].append(time.monotonic() - written)
                    return
                assert time.monotonic() - written < MAX_LAG, f"{kind}: still {body}"
                await asyncio.sleep(0.001)

        for round_ in range(WRITES):
            name = f"Renamed {round_}"
            async with http.patch(writer.url("/restaurant/1"), json={"name": name}) as response:
                assert response.status == 200
            written = time.monotonic()
            await asyncio.gather(
                seen("own", writer, name, written), seen("other", other, name, written)
            )
    for kind, delay in delays.items():
        delay.sort()
        figures(
            f"visibility after a write, {kind} process",
            writes=len(delay),
            p50_ms=statistics.median(delay) * 1000,
            p99_ms=delay[math.ceil(0.99 * len(delay)) - 1] * 1000,
        )
    # The process that wrote never answers from before its write: its first read shows it.
    assert all(d < MAX_LAG for d in delays["own"] + delays["other"])


async def test_a_stopped_replica_costs_no_failed_read(
    private_pg: PostgresCluster,
    fault_database: str,
    private_pg_standby: PostgresStandby,
    serve_app: ServeApp,
) -> None:
    served, replica = await _serve(serve_app, _environ(fault_database, private_pg_standby))
    load = LoadGenerator([served.url(path) for path in READS], clients=8, duration=3.0, timeout=3.0)
    run = asyncio.create_task(load.run())
    await load.wait_for_samples(100)
    stopping_at = time.monotonic()
    await asyncio.to_thread(private_pg_standby.stop, "fast")
    stopped = time.monotonic() - stopping_at
    # The first read to fail there marks it, usually before the stop has even returned.
    moved = await _until(lambda: not replica.healthy, 5, "reads moved to the primary")
    result = await run
    figures(
        "replica stopped under load",
        requests=len(result),
        outcomes=dict(result.by_outcome()),
        stop_s=stopped,
        moved_after_stop_s=moved,
    )
    assert result.by_outcome() == {200: len(result)}
    assert moved < 1.0


async def test_a_replica_behind_by_more_than_the_max_lag_is_skipped(
    private_pg: PostgresCluster,
    fault_database: str,
    private_pg_standby: PostgresStandby,
    serve_app: ServeApp,
) -> None:
    database = _name(fault_database)
    served, replica = await _serve(serve_app, _environ(fault_database, private_pg_standby))
    await _pause_replay(private_pg_standby, private_pg.dsn(database))
    await fetchval(
        private_pg.dsn(database),
        "INSERT INTO users (id, username, type, image_url, profile_url)"
        " VALUES (9000001, 'newcomer', 'User', 'https://i/9000001', 'https://p/newcomer')",
    )
    # Until the lag check sees it behind, a read of the new user may reach the replica (404).
    took = await _until(lambda: not replica.healthy, 2 * MAX_LAG + 2, "the lagging replica skipped")
    figures("paused replica skipped", after_s=took, lag=replica.lag, max_lag=MAX_LAG)
    assert replica.lag is None or replica.lag > MAX_LAG
    result = await run_load(served.url("/users/newcomer"), clients=4, requests=40)
    assert result.by_outcome() == {200: 40}  # the paused replica would answer 404
    async with aiohttp.ClientSession() as http:
        status, body = await _get_object(http, served.url("/readyz"))
    assert status == 200 and body["replicas"] == {replica.name: "skipped"}

    await asyncio.to_thread(private_pg_standby.resume_replay)
    await _until(lambda: replica.healthy, 5, "the replica in use again once caught up")


async def test_a_lagging_replica_never_caches_old_rows_under_a_new_version(
    fault_database: str,
    private_pg_standby: PostgresStandby,
    private_redis: RedisServer,
    serve_app: ServeApp,
) -> None:
    """Two processes sharing one Redis cache; the standby stops replaying but stays in use (its
    lag is within a generous bound). After a write, no read through either process shows the
    old rows: each reads the data version in the same snapshot as the rows and stores the
    response under that version, and a replica older than the version a process knows is
    passed over for the primary."""
    environ = _environ(
        fault_database,
        private_pg_standby,
        CACHE_TTL="60",
        CACHE_URL=private_redis.url,
        REPLICA_MAX_LAG="600",
    )
    (first, _), (second, _) = await _serve(serve_app, environ), await _serve(serve_app, environ)
    paths = ["/restaurant/1", "/restaurant/1/item", "/restaurant?pagination=5"]
    async with aiohttp.ClientSession(headers=AUTH) as http:
        for served in (first, second):  # the cache holds every response at the old version
            for path in paths:
                assert (await _get_json(http, served.url(path)))[0] == 200
        await _pause_replay(
            private_pg_standby, private_pg_standby.primary.dsn(_name(fault_database))
        )
        async with http.patch(first.url("/restaurant/1"), json={"name": "Six Guys"}) as response:
            assert response.status == 200
        old_names = 0
        for _ in range(20):
            for served in (first, second):
                for path in paths:
                    status, body = await _get_json(http, served.url(path))
                    assert status == 200
                    old_names += "Five Guys" in str(body)
                    if path == "/restaurant/1":
                        assert isinstance(body, dict) and body["name"] == "Six Guys"
            await asyncio.sleep(0.01)
    assert _replica(first).healthy and _replica(second).healthy  # still in use, behind
    assert old_names == 0
    await asyncio.to_thread(private_pg_standby.resume_replay)


async def test_reads_are_spread_over_the_healthy_replicas_in_turn() -> None:
    """No server needed: engines connect on first use, and none is used here."""
    urls = tuple(f"postgresql+asyncpg://u@127.0.0.1:{port}/db" for port in (20001, 20002, 20003))
    database = Database(Settings(database_url=urls[0], database_replica_urls=urls[1:]))
    try:
        first, second = database.replicas
        assert [database.read_source() for _ in range(2)] == [database.primary] * 2
        first.healthy = second.healthy = True
        chosen = Counter(database.read_source().name for _ in range(100))
        assert chosen == {first.name: 50, second.name: 50}
        database.source_failed(first, ConnectionResetError())
        assert {database.read_source().name for _ in range(10)} == {second.name}
    finally:
        await database.dispose()
