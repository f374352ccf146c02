"""GET /metrics: Prometheus text, behind METRICS_TOKEN (no such route while it is unset).

Counted as they happen: requests by method, route template and status, with their latency;
cache lookups (hit, miss, bypass, not_modified). Sampled each second and at every scrape: the
database pools (connections in use, idle, requests waiting), the cache's circuit, the data
version channel, each replica's use and lag.

With several workers the supervisor gives them one PROMETHEUS_MULTIPROC_DIR (userdir.workers),
so any worker's /metrics answers for all: counters and histograms summed, pool gauges summed
over the live workers, lag the largest, states per worker (a `pid` label).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from userdir.auth import check_bearer
from userdir.errors import Handler
from userdir.keys import CACHE, DATABASE, METRICS, SETTINGS, VERSIONS

log = logging.getLogger(__name__)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
SAMPLE_INTERVAL = 1.0
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    """One app's metrics, in a registry of its own (several apps may share a process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "userdir_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "userdir_http_request_duration_seconds",
            "Time from a request's arrival until its handler returned, by route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.cache = Counter(
            "userdir_cache_lookups",
            "Cached GETs by outcome: hit, miss, bypass (cache skipped), not_modified (304).",
            ["result"],
            registry=r,
        )
        self.pool = Gauge(
            "userdir_db_pool_connections",
            "Database connections of the pools, in use or idle, by source.",
            ["source", "state"],
            multiprocess_mode="livesum",
            registry=r,
        )
        self.waiting = Gauge(
            "userdir_db_pool_waiting",
            "Requests waiting for a database connection, by source.",
            ["source"],
            multiprocess_mode="livesum",
            registry=r,
        )
        self.cache_open = Gauge(
            "userdir_cache_circuit_open",
            "1 while the shared cache is skipped after failures (circuit open), else 0.",
            multiprocess_mode="liveall",
            registry=r,
        )
        self.versions_live = Gauge(
            "userdir_versions_live",
            "1 while the data-version channel is up, 0 while each read asks the database.",
            multiprocess_mode="liveall",
            registry=r,
        )
        self.replica_in_use = Gauge(
            "userdir_replica_in_use",
            "1 while a replica serves reads, 0 while it is skipped.",
            ["replica"],
            multiprocess_mode="liveall",
            registry=r,
        )
        self.replica_lag = Gauge(
            "userdir_replica_lag_seconds",
            "A replica's lag behind the primary as last measured (-1: unknown).",
            ["replica"],
            multiprocess_mode="livemax",
            registry=r,
        )

    def sample(self, app: web.Application) -> None:
        """Read the current states off the app: pools, cache circuit, channel, replicas."""
        database = app[DATABASE]
        for source in (database.primary, *database.replicas):
            pool: Any = source.engine.sync_engine.pool
            if not hasattr(pool, "checkedout"):
                continue  # a pool that keeps no count (NullPool, StaticPool)
            self.pool.labels(source.name, "in_use").set(pool.checkedout())
            self.pool.labels(source.name, "idle").set(pool.checkedin())
            self.waiting.labels(source.name).set(_waiting(pool))
        self.cache_open.set(1 if app[CACHE].state == "degraded" else 0)
        self.versions_live.set(1 if app[VERSIONS].live else 0)
        for replica in database.replicas:
            self.replica_in_use.labels(replica.name).set(1 if replica.healthy else 0)
            self.replica_lag.labels(replica.name).set(-1 if replica.lag is None else replica.lag)

    def render(self) -> bytes:
        if os.environ.get(MULTIPROC_ENV):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)


def _waiting(pool: Any) -> int:
    """Waiters on the pool's asyncio queue (SQLAlchemy keeps no count of them itself)."""
    queue = getattr(getattr(pool, "_pool", None), "_queue", None)
    return len(getattr(queue, "_getters", ()) or ())


def route_of(request: web.Request) -> str:
    """The route template ("/users/{username}"), never the path: a bounded label set."""
    route = request.match_info.route
    resource = route.resource
    if resource is None or getattr(request.match_info, "http_exception", None) is not None:
        return "unmatched"
    return resource.canonical


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    began = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        metrics = request.app[METRICS]
        route = route_of(request)
        metrics.requests.labels(request.method, route, str(status)).inc()
        metrics.latency.labels(request.method, route).observe(time.perf_counter() - began)


def count_cache(request: web.Request, result: str) -> None:
    """One cached GET's outcome, when metrics are on."""
    if (metrics := request.app.get(METRICS)) is not None:
        metrics.cache.labels(result).inc()


async def metrics_handler(request: web.Request) -> web.Response:
    check_bearer(request, (request.app[SETTINGS].metrics_token,), "metrics")
    metrics = request.app[METRICS]
    metrics.sample(request.app)
    return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _sample_every_second(app: web.Application) -> None:
    while True:
        await asyncio.sleep(SAMPLE_INTERVAL)
        app[METRICS].sample(app)


async def metrics_ctx(app: web.Application) -> AsyncIterator[None]:
    """Other workers' states reach the shared files once a second, whoever is scraped."""
    task = asyncio.create_task(_sample_every_second(app))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@dataclass(frozen=True, slots=True)
class SeedCounters:
    users: Counter
    pages: Counter


@functools.cache
def seed_counters() -> SeedCounters:
    """What `userdir seed` stored, page by page. Registered nowhere: they reach /metrics
    through PROMETHEUS_MULTIPROC_DIR when the seed runs with the server's."""
    return SeedCounters(
        Counter(
            "userdir_seed_users",
            "Users seeding stored or skipped.",
            ["outcome"],
            registry=None,
        ),
        Counter("userdir_seed_pages", "Pages of users seeding wrote.", registry=None),
    )


@contextlib.contextmanager
def shared_dir(enabled: bool) -> Iterator[str | None]:
    """The supervisor's PROMETHEUS_MULTIPROC_DIR for its workers (None when metrics are off):
    the one given, emptied of a previous run's files, or a fresh one removed at the end."""
    if not enabled:
        yield None
        return
    given = os.environ.get(MULTIPROC_ENV)
    path = Path(given) if given else Path(tempfile.mkdtemp(prefix="userdir-metrics-"))
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(path)  # workers inherit it
    log.info("metrics of the workers in %s", path)
    try:
        yield str(path)
    finally:
        if not given:
            shutil.rmtree(path, ignore_errors=True)


def worker_gone(directory: str | None, pid: int) -> None:
    """Drop a dead worker's gauges; its counters and histograms keep counting in the sums."""
    if directory is not None:
        multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]


def setup_metrics(app: web.Application) -> None:
    """Installed only when METRICS_TOKEN is set: no route, no cost otherwise."""
    if not app[SETTINGS].metrics_token:
        return
    app[METRICS] = Metrics()
    app.middlewares.insert(0, metrics_middleware)  # outermost: sees every final status
    app.router.add_get("/metrics", metrics_handler)
    app.cleanup_ctx.append(metrics_ctx)
