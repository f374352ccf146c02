"""The service under load while its PostgreSQL goes away, drops connections or is too slow:
every answer is a 200 or a 503 problem+json with Retry-After, never a 500 or a hang, and one
log line tells of each outage. Run with -s to see the measured figures (FIGURES lines)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from tests.fault_app import (
    HEADERS,
    ServeApp,
    figures,
    other_server_errors,
    problems_without_retry_after,
    tracebacks,
    warnings_of,
)
from tests.servers.load import LoadGenerator, LoadResult, run_load
from tests.servers.postgres import PostgresCluster
from tests.servers.redis import RedisServer
from userdir.keys import VERSIONS

pytestmark = pytest.mark.slow

OUTAGE = 7.0  # seconds PostgreSQL stays stopped
REQUEST_TIMEOUT = 2.0
RECOVERY_BOUND = 2.0  # first 200 after PostgreSQL accepts connections again
# Slack for a busy two-core machine running the load and the service in one process.
SLACK = 0.5
STORM_EVERY = 0.5  # seconds between two pg_terminate_backend storms
UNCACHED = ["/users/mojombo", "/users/defunkt"]  # single-user reads are never cached
CACHED = ["/users?type=Organization", "/restaurant/1/item", "/restaurant/2/item?depth=1"]


def _environ(database_url: str, cache_url: str = "memory://", **more: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "CACHE_URL": cache_url,
        "REQUEST_TIMEOUT": str(REQUEST_TIMEOUT),
        "DB_CONNECT_TIMEOUT": "1",
        **more,
    }


def _name(database_url: str) -> str:
    name = make_url(database_url).database
    assert name is not None
    return name


def _finished_before(result: LoadResult, moment: float) -> LoadResult:
    return LoadResult(tuple(s for s in result.samples if s.started + s.latency < moment), moment)


async def test_postgres_stopped_under_load_answers_503_then_recovers(
    private_pg: PostgresCluster,
    fault_database: str,
    private_redis: RedisServer,
    serve_app: ServeApp,
    caplog: pytest.LogCaptureFixture,
) -> None:
    served = await serve_app(_environ(fault_database, private_redis.url))
    load = LoadGenerator(
        [served.url(path) for path in UNCACHED + CACHED],
        clients=8,
        duration=OUTAGE + 6,
        timeout=REQUEST_TIMEOUT + 2,  # longer than the service's bound: a hang would show
        record_headers=HEADERS,
    )
    caplog.clear()
    run = asyncio.create_task(load.run())
    await load.wait_for_samples(50)
    stopping_at = load.elapsed()
    await asyncio.to_thread(private_pg.stop, "fast")
    down_at = load.elapsed()
    await asyncio.sleep(OUTAGE)  # the outage itself: there is no event to wait for
    starting_at = load.elapsed()
    await asyncio.to_thread(private_pg.start)
    back_at = load.elapsed()  # accepting connections again
    result = await run

    before = _finished_before(result, stopping_at)
    down = result.between(down_at, starting_at)
    after = result.between(back_at, result.duration)
    first = result.first_success_after(back_at)
    recovery = None if first is None else first.started + first.latency - back_at
    logged = warnings_of(caplog)
    shown = figures(
        "postgres stopped",
        outage_s=starting_at - down_at,
        requests=len(result),
        before=dict(before.by_outcome()),
        while_down=dict(down.by_outcome()),
        cache_hits_while_down=sum(1 for s in down.samples if s.headers.get("X-Cache") == "HIT"),
        after=dict(after.by_outcome()),
        other_5xx=other_server_errors(result),
        no_answer=result.errors(),
        max_latency_s=result.max_latency(),
        p99_while_down_s=down.percentile(99),
        recovery_s=recovery,
        warning_lines=len(logged),
    )
    assert before.successes() == len(before) > 0, shown
    # While it is down: 503 problem+json with Retry-After, or a response cached before the
    # stop (until the versions channel notices, within its heartbeat); never a 500, never a
    # hang.
    assert down.count_status(503) > 0, shown
    assert set(down.by_outcome()) <= {200, 503}, shown
    assert all(s.headers.get("X-Cache") == "HIT" for s in down.samples if s.ok), shown
    assert other_server_errors(result) == 0 and result.errors() == 0, shown
    assert problems_without_retry_after(result) == 0, shown
    assert result.max_latency() < REQUEST_TIMEOUT, shown
    assert first is not None and recovery is not None and recovery < RECOVERY_BOUND, shown
    settled = result.between(first.started + first.latency, result.duration)
    assert set(settled.by_outcome()) == {200}, shown
    # One line when the outage began, one when it ended (and one from the versions channel),
    # not a traceback per request.
    outage_lines = [line for line in logged if line.startswith("WARNING userdir.db.faults")]
    assert len(outage_lines) == 2, logged
    assert "database unavailable" in outage_lines[0], logged
    assert "database is back" in outage_lines[1], logged
    # The cache's breaker may trip too when a stall of this loaded 2-core machine outlasts
    # CACHE_TIMEOUT (tests/test_faults_cache.py holds it to its own lines); nothing else logs.
    others = [line for line in logged if not line.startswith("WARNING userdir.cache.breaker")]
    assert len(others) <= 3, logged
    assert tracebacks(caplog) == [], tracebacks(caplog)


async def test_terminated_connections_under_load_are_retried_or_503_never_500(
    private_pg: PostgresCluster,
    fault_database: str,
    private_redis: RedisServer,
    serve_app: ServeApp,
    caplog: pytest.LogCaptureFixture,
) -> None:
    served = await serve_app(_environ(fault_database, private_redis.url, CACHE_TTL="0"))
    load = LoadGenerator(
        [served.url(path) for path in UNCACHED + CACHED],
        clients=8,
        duration=5.0,
        timeout=REQUEST_TIMEOUT + 2,
        record_headers=HEADERS,
    )
    admin = await asyncpg.connect(private_pg.dsn(), timeout=5)
    try:
        run = asyncio.create_task(load.run())
        await load.wait_for_samples(30)
        storm_from = load.elapsed()
        storms = terminated = 0
        while load.elapsed() < storm_from + 3.5:
            terminated += await admin.fetchval(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = $1",
                _name(fault_database),
            )
            storms += 1
            await asyncio.sleep(STORM_EVERY)  # there is no event to wait for: a storm a beat
        result = await run
    finally:
        await admin.close()
    # The versions channel lost its connection in the storms too: it is back by itself.
    async with asyncio.timeout(5):
        while not served.app[VERSIONS].live:
            await asyncio.sleep(0.05)

    during = result.between(storm_from, result.duration)
    shown = figures(
        "pg_terminate_backend storms",
        storms=storms,
        connections_terminated=terminated,
        requests=len(result),
        during=dict(during.by_outcome()),
        status_500=result.count_status(500),
        other_5xx=other_server_errors(result),
        max_latency_s=result.max_latency(),
        tracebacks=len(tracebacks(caplog)),
    )
    assert terminated >= storms >= 5, shown
    assert result.count_status(500) == 0 and other_server_errors(result) == 0, shown
    assert result.errors() == 0 and problems_without_retry_after(result) == 0, shown
    # A read whose connection is killed under it is retried once on a fresh one; when the
    # next storm kills that one too (a request takes a few hundred ms on a busy machine), 503.
    assert during.successes() > 0, shown
    assert tracebacks(caplog) == [], tracebacks(caplog)


@asynccontextmanager
async def users_locked(dsn: str) -> AsyncIterator[asyncpg.Connection]:
    """An ACCESS EXCLUSIVE lock on users: every read of it waits until the block ends."""
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        async with conn.transaction():
            await conn.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
            yield conn
    finally:
        await conn.close()


async def _waiting_on_locks(conn: asyncpg.Connection, count: int) -> None:
    """Until `count` sessions of this database wait on a lock (a request is stuck)."""
    waiting = (
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    async with asyncio.timeout(10):
        while await conn.fetchval(waiting) < count:
            await asyncio.sleep(0.01)


async def test_a_read_over_the_statement_timeout_answers_503_within_it(
    private_pg: PostgresCluster, fault_database: str, serve_app: ServeApp
) -> None:
    timeout = 0.5
    served = await serve_app(
        _environ(fault_database, DB_STATEMENT_TIMEOUT=str(timeout), REQUEST_TIMEOUT="10")
    )
    async with users_locked(private_pg.dsn(_name(fault_database))):
        result = await run_load(
            [served.url("/users/mojombo"), served.url("/users?type=User")],
            clients=2,
            requests=4,
            timeout=10,
            record_headers=HEADERS,
        )
    shown = figures(
        "statement over DB_STATEMENT_TIMEOUT",
        timeout_s=timeout,
        outcomes=dict(result.by_outcome()),
        min_latency_s=min(s.latency for s in result.samples),
        max_latency_s=result.max_latency(),
    )
    assert result.by_outcome() == {503: 4}, shown
    assert problems_without_retry_after(result) == 0, shown
    assert timeout <= min(s.latency for s in result.samples), shown  # it did wait
    assert result.max_latency() < timeout + SLACK, shown


async def test_an_exhausted_pool_answers_503_within_the_pool_timeout(
    private_pg: PostgresCluster, fault_database: str, serve_app: ServeApp
) -> None:
    pool_timeout = 0.3
    served = await serve_app(
        _environ(
            fault_database,
            DB_POOL_SIZE="1",
            DB_POOL_OVERFLOW="0",
            DB_POOL_TIMEOUT=str(pool_timeout),
            DB_STATEMENT_TIMEOUT="0",
            REQUEST_TIMEOUT="10",
        )
    )
    async with users_locked(private_pg.dsn(_name(fault_database))) as lock:
        # This read holds the pool's only connection, waiting on the lock.
        holder = asyncio.create_task(run_load(served.url("/users/mojombo"), requests=1))
        await _waiting_on_locks(lock, 1)
        starved = await run_load(
            served.url("/users/defunkt"), clients=2, requests=4, record_headers=HEADERS
        )
    held = await holder  # the lock is gone: the first read completes
    shown = figures(
        "pool exhausted",
        pool_timeout_s=pool_timeout,
        starved=dict(starved.by_outcome()),
        starved_max_latency_s=starved.max_latency(),
        holder=dict(held.by_outcome()),
    )
    assert starved.by_outcome() == {503: 4}, shown
    assert problems_without_retry_after(starved) == 0, shown
    assert pool_timeout <= min(s.latency for s in starved.samples), shown
    assert starved.max_latency() < pool_timeout + SLACK, shown
    assert held.by_outcome() == {200: 1}, shown


async def test_a_handler_over_the_request_timeout_answers_503_logged_with_its_id(
    private_pg: PostgresCluster,
    fault_database: str,
    serve_app: ServeApp,
    caplog: pytest.LogCaptureFixture,
) -> None:
    timeout = 0.5
    served = await serve_app(
        _environ(fault_database, REQUEST_TIMEOUT=str(timeout), DB_STATEMENT_TIMEOUT="0")
    )
    caplog.clear()
    async with users_locked(private_pg.dsn(_name(fault_database))):
        slow = await run_load(
            served.url("/users/mojombo"),
            requests=1,
            headers={"X-Request-ID": "slow-read-1"},
            record_headers=HEADERS,
        )
    after = await run_load(served.url("/users/mojombo"), requests=2)
    logged = warnings_of(caplog)
    shown = figures(
        "handler over REQUEST_TIMEOUT",
        timeout_s=timeout,
        outcome=dict(slow.by_outcome()),
        latency_s=slow.max_latency(),
        then=dict(after.by_outcome()),
    )
    assert slow.by_outcome() == {503: 1} and problems_without_retry_after(slow) == 0, shown
    assert timeout <= slow.max_latency() < timeout + SLACK, shown
    assert after.by_outcome() == {200: 2}, shown  # the connection it held went back
    assert logged == [
        "WARNING userdir.errors: request took longer than REQUEST_TIMEOUT=0.5s"
        " [request_id=slow-read-1] GET /users/mojombo"
    ], logged
    assert tracebacks(caplog) == [], tracebacks(caplog)


async def test_the_versions_channel_survives_losing_its_connection_while_it_subscribes(
    fault_database: str, serve_app: ServeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A storm can kill the listening connection between connecting and LISTEN, where the
    driver's own error (not SQLAlchemy's) comes out: the channel reconnects all the same."""
    subscribe = asyncpg.Connection.add_listener
    failures = [asyncpg.ConnectionDoesNotExistError("connection was closed in the middle")]

    async def lost_once(self: asyncpg.Connection, *args: object) -> None:
        if failures:
            raise failures.pop()
        await subscribe(self, *args)

    monkeypatch.setattr(asyncpg.Connection, "add_listener", lost_once)
    served = await serve_app(_environ(fault_database))
    async with asyncio.timeout(5):
        while not served.app[VERSIONS].live:
            await asyncio.sleep(0.05)
    assert failures == []
