"""The service under load while its Redis cache dies, hangs, is missing at start-up or is full:
the cache only ever accelerates. Answers come from the database (X-Cache: BYPASS) within a
second, never a 5xx, and the cache is used again once Redis answers. Run with -s to see the
measured figures (FIGURES lines)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from redis.exceptions import OutOfMemoryError
from sqlalchemy import event

from tests.fault_app import (
    HEADERS,
    ServeApp,
    figures,
    tracebacks,
    warnings_of,
)
from tests.servers.load import LoadGenerator, LoadResult, run_load
from tests.servers.redis import RedisServer
from userdir.cache import RedisCache, create_cache
from userdir.keys import CACHE, DATABASE, SETTINGS

pytestmark = pytest.mark.slow

ANSWER_BOUND = 1.0  # seconds: every answer while the cache is dead or hung
CACHE_TIMEOUT = 0.2
# For tests of faults other than a slow Redis: a busy event loop can take longer than 0.2 s to
# read a healthy Redis's answer, which trips the breaker (X-Cache: BYPASS) for half a second.
LENIENT_TIMEOUT = 1.0
DOWN = 2.0  # seconds Redis stays dead or hung
SLACK = 0.3  # for a busy two-core machine running the load and the service in one process
CACHED = [
    "/users?type=Organization",
    "/users?type=User&pagination=50",
    "/restaurant/1/item",
    "/restaurant/2/item?depth=1",
    "/restaurant/3/item",
]


def _environ(
    database_url: str, cache_url: str, cache_timeout: float = CACHE_TIMEOUT, **more: str
) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "CACHE_URL": cache_url,
        "CACHE_TIMEOUT": str(cache_timeout),
        **more,
    }


async def _answer_bound(
    serve_app: ServeApp, environ: Mapping[str, str], paths: list[str], clients: int
) -> tuple[float, LoadResult]:
    """The bound on each answer while the cache fails: ANSWER_BOUND, or on a machine too
    busy to serve these clients from the database within it at all, what that takes (the
    same load on an app without a cache) and half as much again (two runs on a shared
    machine differ that much), plus one cache timeout."""
    uncached = await serve_app({**environ, "CACHE_TTL": "0", "DB_POOL_TIMEOUT": "60"})
    baseline = await run_load(
        [uncached.url(path) for path in paths], clients=clients, duration=1.5, timeout=10
    )
    assert baseline.by_outcome() == {200: len(baseline)}, baseline.by_outcome()
    return max(ANSWER_BOUND, 1.5 * baseline.max_latency() + CACHE_TIMEOUT), baseline


def _cache_states(result: LoadResult) -> dict[str, int]:
    return dict(result.header_values("X-Cache"))


def _first_hit_after(result: LoadResult, moment: float) -> float | None:
    """Seconds from `moment` until the first X-Cache: HIT answer that started after it."""
    ends = [
        s.started + s.latency
        for s in result.samples
        if s.started >= moment and s.headers.get("X-Cache") == "HIT"
    ]
    return min(ends) - moment if ends else None


def _breaker_lines(logged: list[str]) -> list[str]:
    return [line for line in logged if "userdir.cache" in line]


async def test_redis_killed_under_load_is_bypassed_then_used_again(
    fault_database: str,
    private_redis: RedisServer,
    serve_app: ServeApp,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A dead Redis refuses at once; the longer timeout keeps a busy machine's slow answers
    # from tripping the breaker before the kill.
    environ = _environ(fault_database, private_redis.url, cache_timeout=LENIENT_TIMEOUT)
    bound, baseline = await _answer_bound(serve_app, environ, CACHED, clients=10)
    served = await serve_app(environ)
    load = LoadGenerator(
        [served.url(path) for path in CACHED],
        clients=10,
        duration=DOWN + 6,
        timeout=ANSWER_BOUND + 2,
        record_headers=HEADERS,
    )
    run = asyncio.create_task(load.run())
    await load.wait_for_samples(60)
    killing_at = load.elapsed()
    caplog.clear()
    await asyncio.to_thread(private_redis.kill)
    killed_at = load.elapsed()
    await asyncio.sleep(DOWN)  # the outage itself: there is no event to wait for
    await asyncio.to_thread(private_redis.start)  # the same port, empty
    back_at = load.elapsed()
    result = await run

    before = result.between(0, killing_at)
    down = result.between(killed_at, back_at)
    hits_back = _first_hit_after(result, back_at)
    logged = warnings_of(caplog)
    shown = figures(
        "redis killed",
        requests=len(result),
        before=_cache_states(before),
        while_down=dict(down.by_outcome()),
        x_cache_while_down=_cache_states(down),
        after=_cache_states(result.between(back_at, result.duration)),
        status_5xx=result.server_errors(),
        max_latency_while_down_s=down.max_latency(),
        p99_while_down_s=down.percentile(99),
        uncached_baseline_max_s=baseline.max_latency(),
        bound_s=bound,
        first_hit_after_restart_s=hits_back,
        warning_lines=len(logged),
    )
    assert "HIT" in _cache_states(before), shown
    assert result.server_errors() == 0 and result.errors() == 0, shown
    assert down.by_outcome() == {200: len(down)}, shown
    assert _cache_states(down) == {"BYPASS": len(down)}, shown
    assert down.max_latency() < bound, shown
    assert hits_back is not None, shown
    # One line when Redis went away, one when it was back: connections left over from before
    # the kill fail no request after that (each would reopen the breaker). A busy machine may
    # still trip it later by a slow answer (TimeoutError), which is not this outage.
    breaker = _breaker_lines(logged)
    assert "cache (redis) unavailable (ConnectionError" in breaker[0], logged
    assert "cache (redis) is back" in breaker[1], logged
    later = [line for line in breaker[2:] if "unavailable" in line]
    assert all("(TimeoutError" in line for line in later), logged
    assert tracebacks(caplog) == [], tracebacks(caplog)


async def _timed(session: aiohttp.ClientSession, url: str) -> tuple[float, int, dict[str, str]]:
    begin = time.perf_counter()
    async with session.get(url) as response:
        body = await response.json()
        return time.perf_counter() - begin, response.status, body


@contextmanager
def connections_held_at_cache_calls(
    app: web.Application, monkeypatch: pytest.MonkeyPatch
) -> Iterator[list[int]]:
    """For every Redis cache call the app makes, how many database connections the request
    making it (its task) holds at that moment."""
    held: Counter[asyncio.Task[object] | None] = Counter()
    at_calls: list[int] = []
    pool = app[DATABASE].primary.engine.sync_engine.pool

    def checked_out(*_: object) -> None:
        held[asyncio.current_task()] += 1  # pool events run inside the request's task

    def checked_in(*_: object) -> None:
        held[asyncio.current_task()] -= 1

    def counted(call: Callable[..., Awaitable[object]]) -> Callable[..., Awaitable[object]]:
        async def calling(self: RedisCache, *args: object) -> object:
            at_calls.append(held[asyncio.current_task()])
            return await call(self, *args)

        return calling

    event.listen(pool, "checkout", checked_out)
    event.listen(pool, "checkin", checked_in)
    monkeypatch.setattr(RedisCache, "get", counted(RedisCache.get))
    monkeypatch.setattr(RedisCache, "set", counted(RedisCache.set))
    try:
        yield at_calls
    finally:
        event.remove(pool, "checkout", checked_out)
        event.remove(pool, "checkin", checked_in)


async def test_redis_hung_under_load_costs_a_request_at_most_the_cache_timeout(
    fault_database: str,
    private_redis: RedisServer,
    serve_app: ServeApp,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clients = 40
    # Ten database connections for forty clients, and a wait for one longer than twice what an
    # answer may take is a 503: requests holding one while their cache call hung would starve
    # the others into those; connections_held_at_cache_calls checks that none ever does.
    environ = _environ(fault_database, private_redis.url, DB_POOL_SIZE="10", DB_POOL_OVERFLOW="0")
    bound, baseline = await _answer_bound(serve_app, environ, CACHED, clients=clients)
    served = await serve_app({**environ, "DB_POOL_TIMEOUT": f"{2 * bound:.2f}"})
    load = LoadGenerator(
        [served.url(path) for path in CACHED],
        clients=clients,
        duration=DOWN + 4,
        timeout=10,  # far past the bound: measured, not cut off
        record_headers=HEADERS,
    )
    caplog.clear()
    with connections_held_at_cache_calls(served.app, monkeypatch) as held_at_calls:
        run = asyncio.create_task(load.run())
        await load.wait_for_samples(2 * clients)  # the cache is warm: hits
        await asyncio.to_thread(private_redis.pause)
        paused_at = load.elapsed()
        try:
            async with asyncio.timeout(5):  # the first cache calls to time out open the breaker
                while served.app[CACHE].state != "degraded":
                    await asyncio.sleep(0.01)
            opened_after = load.elapsed() - paused_at
            # Health while the cache hangs and forty clients are served from the database.
            health: list[tuple[float, int, dict[str, str]]] = []
            async with aiohttp.ClientSession() as session:
                for _ in range(3):
                    health.append(await _timed(session, served.url("/livez")))
                    health.append(await _timed(session, served.url("/readyz")))
            result = await run  # ends while Redis still hangs
            # One cache call made as the service makes them, on the hung server, timed on an
            # idle event loop: what the call itself costs, without the load's queueing.
            probe = create_cache(served.app[SETTINGS])
            assert isinstance(probe, RedisCache)
            begin = time.perf_counter()
            assert await probe.get("any") is None
            cache_call = time.perf_counter() - begin
        finally:
            await asyncio.to_thread(private_redis.resume)
        await probe.close()

    hung = result.between(paused_at, result.duration)
    shown = figures(
        "redis hung",
        clients=clients,
        requests=len(result),
        while_hung=dict(hung.by_outcome()),
        x_cache_while_hung=_cache_states(hung),
        status_5xx=result.server_errors(),
        no_answer=result.errors(),
        max_latency_while_hung_s=hung.max_latency(),
        p99_while_hung_s=hung.percentile(99),
        uncached_baseline_max_s=baseline.max_latency(),
        bound_s=bound,
        cache_call_s=cache_call,
        breaker_open_after_s=opened_after,
        cache_calls_checked=len(held_at_calls),
        cache_calls_holding_a_connection=sum(1 for n in held_at_calls if n),
        health_max_latency_s=max(latency for latency, _, _ in health),
        readyz=health[1][2],
    )
    assert CACHE_TIMEOUT <= cache_call < CACHE_TIMEOUT + SLACK, shown
    assert result.server_errors() == 0 and result.errors() == 0, shown
    assert hung.max_latency() < bound, shown
    assert "BYPASS" in _cache_states(hung), shown
    assert len(held_at_calls) > 100 and not any(held_at_calls), shown
    assert [status for _, status, _ in health] == [200] * 6, shown
    assert all(body.get("cache") == "degraded" for _, _, body in health[1::2]), shown
    # Health probes wait neither on the cache nor on a database connection the load holds
    # (readiness has its own bound): only on their turn in a busy event loop.
    assert max(latency for latency, _, _ in health) < bound, shown
    assert tracebacks(caplog) == [], tracebacks(caplog)


async def test_a_full_redis_refusing_writes_is_ignored_and_logged_once(
    fault_database: str,
    redis_factory: Callable[..., RedisServer],
    serve_app: ServeApp,
    caplog: pytest.LogCaptureFixture,
) -> None:
    redis: RedisServer = redis_factory(maxmemory="64mb", maxmemory_policy="noeviction")
    client = aioredis.from_url(redis.url, socket_timeout=2)
    try:
        await client.set("filler", b"x" * 100_000)
        # Full: what it holds is over maxmemory, and noeviction keeps it all.
        used = int((await client.info("memory"))["used_memory"])
        await client.config_set("maxmemory", str(used - 50_000))
        with pytest.raises(OutOfMemoryError):
            await client.set("one-more", b"x")
        served = await serve_app(_environ(fault_database, redis.url, LENIENT_TIMEOUT))
        urls = [served.url(path) for path in CACHED]
        caplog.clear()
        full = await run_load(urls, clients=5, requests=20, duration=20, record_headers=HEADERS)
        refused = warnings_of(caplog)
        await client.config_set("maxmemory", "64mb")  # room again
        caplog.clear()
        room = await run_load(urls, clients=5, requests=40, duration=20, record_headers=HEADERS)
        accepted = warnings_of(caplog)
    finally:
        await client.aclose()
    shown = figures(
        "redis full (noeviction)",
        full=dict(full.by_outcome()),
        x_cache_full=_cache_states(full),
        refused_lines=len(refused),
        then=_cache_states(room),
        accepted_lines=len(accepted),
    )
    assert full.server_errors() == 0 and full.by_outcome() == {200: len(full)}, shown
    assert _cache_states(full) == {"MISS": len(full)}, shown  # nothing could be stored
    assert len(refused) == 1 and "refuses writes" in refused[0], refused
    assert room.server_errors() == 0 and "HIT" in _cache_states(room), shown
    assert len(accepted) == 1 and "accepts writes again" in accepted[0], accepted
    assert tracebacks(caplog) == [], tracebacks(caplog)
