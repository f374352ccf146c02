"""What this process knows of the data versions, kept fresh without a query per request.

Every cached response is keyed by the version of the data set it shows (userdir.datasets). A
cache hit needs that version; reading it from the database on every request would cost the
round trip the cache exists to save. So each process keeps the versions in memory:

- it applies its own writes right after they commit (it sees its own writes at once);
- on PostgreSQL it LISTENs for the NOTIFY every bump sends at commit (queries/versions.py):
  other processes and hosts see a write a few milliseconds after it commits;
- on SQLite (one host) it reads what changed every VERSION_POLL_INTERVAL (50 ms).

While that channel is down (the listening connection dropped, a poll failed) `current()`
answers None and each request reads its version from the database again: safe, slower, and
never stale. The channel is re-established in the background; after every (re)connection the
versions are read whole before `current()` answers again, so nothing sent meanwhile is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping

from aiohttp import web
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from userdir.datasets import Dataset
from userdir.db import DATABASE_FAULTS, create_engine
from userdir.keys import DATABASE, SETTINGS, VERSIONS
from userdir.queries import PING
from userdir.queries.versions import CHANNEL, list_versions

log = logging.getLogger(__name__)

LISTENER = "userdir-versions"
HEARTBEAT = 1.0  # seconds between liveness checks of the listening connection
RECONNECT_DELAYS = (0.1, 0.2, 0.5, 1.0, 2.0)  # then 2 s between attempts


class Versions:
    def __init__(self) -> None:
        self._known: dict[str, int] = {}
        self.live = False  # False: no channel, every request reads its version

    def current(self, dataset: Dataset) -> int | None:
        """The newest version this process knows, or None while it cannot be trusted."""
        if not self.live:
            return None
        return self._known.get(dataset, 0)

    def learn(self, dataset: str, version: int) -> None:
        # Versions only grow: a late or repeated notification never moves one back.
        if version > self._known.get(dataset, 0):
            self._known[dataset] = version

    def learn_all(self, versions: Iterable[tuple[str, int]] | Mapping[str, int]) -> None:
        pairs = versions.items() if isinstance(versions, Mapping) else versions
        for dataset, version in pairs:
            self.learn(dataset, version)

    def on_notify(self, payload: str) -> None:
        dataset, _, version = payload.rpartition("=")
        if dataset and version.isdigit():
            self.learn(dataset, int(version))


def _set(event: asyncio.Event, *_: object) -> None:
    event.set()


def _delays() -> Iterator[float]:
    yield from RECONNECT_DELAYS
    while True:
        yield RECONNECT_DELAYS[-1]


async def listen(engine: AsyncEngine, versions: Versions, ready: asyncio.Event) -> None:
    """LISTEN on one dedicated connection; reconnect with backoff whenever it is lost."""
    delays = _delays()
    while True:
        try:
            async with engine.connect() as conn:
                # Notifications wait while a transaction is open: this connection never has one.
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                raw = (await conn.get_raw_connection()).driver_connection
                assert raw is not None
                lost = asyncio.Event()
                raw.add_termination_listener(functools.partial(_set, lost))
                await raw.add_listener(CHANNEL, lambda *args: versions.on_notify(args[-1]))
                versions.learn_all(await list_versions(conn))  # after LISTEN: no gap
                if not versions.live:
                    log.info("data versions: listening for changes")
                versions.live = True
                ready.set()
                delays = _delays()
                while not lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), HEARTBEAT)
                    # A half-open TCP connection raises nothing: ask for an answer in time.
                    await asyncio.wait_for(conn.execute(PING), HEARTBEAT)
                raise ConnectionError("the listening connection was closed")
        except DATABASE_FAULTS as exc:  # ConnectionError included: it is an OSError
            if versions.live:
                log.warning(
                    "data versions: lost the change channel (%s); every request reads its "
                    "version until it is back",
                    type(exc).__name__,
                )
            versions.live = False
            ready.set()  # start-up need not wait for a database that is down
            await asyncio.sleep(next(delays))


async def poll(
    engine: AsyncEngine, versions: Versions, interval: float, ready: asyncio.Event
) -> None:
    """SQLite: read what changed since the highest version seen, every `interval` seconds,
    on one connection kept open (20 small reads a second must not each open one)."""
    high = 0
    while True:
        try:
            async with engine.connect() as conn:
                while True:
                    changed = await list_versions(conn, newer_than=high if versions.live else 0)
                    await conn.rollback()  # no read transaction left open between polls
                    versions.learn_all(changed)
                    high = max((v for _, v in changed), default=high)
                    if not versions.live:
                        log.info("data versions: reading changes every %.0f ms", interval * 1000)
                    versions.live = True
                    ready.set()
                    await asyncio.sleep(interval)
        except DATABASE_FAULTS as exc:
            if versions.live:
                log.warning("data versions: cannot read changes (%s)", type(exc).__name__)
            versions.live = False
            ready.set()
            await asyncio.sleep(interval)


def _watch_engine(url: str, connect_timeout: float) -> AsyncEngine:
    """The watcher's own engine: it never takes a connection the requests need."""
    if make_url(url).get_backend_name() == "sqlite":
        return create_engine(url, pool_size=1, max_overflow=0)
    # The listening connection lives as long as the process: no pool around it. Its name
    # shows in pg_stat_activity, for operators (and for the tests that cut it).
    connect_args = {"timeout": connect_timeout, "server_settings": {"application_name": LISTENER}}
    return create_async_engine(make_url(url), poolclass=NullPool, connect_args=connect_args)


async def versions_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    database = app[DATABASE]
    versions = Versions()
    app[VERSIONS] = versions
    ready = asyncio.Event()
    engine: AsyncEngine | None = None
    task: asyncio.Task[None] | None = None
    if database.backend == "sqlite":
        engine = _watch_engine(settings.database_url, settings.db_connect_timeout)
        task = asyncio.create_task(poll(engine, versions, settings.version_poll_interval, ready))
    elif settings.db_pgbouncer and not settings.database_listen_url:
        log.warning(
            "DB_PGBOUNCER is set without DATABASE_LISTEN_URL: LISTEN needs a session, so every "
            "cached GET reads its data version; point DATABASE_LISTEN_URL at the primary"
        )
    else:
        engine = _watch_engine(
            settings.database_listen_url or settings.database_url, settings.db_connect_timeout
        )
        task = asyncio.create_task(listen(engine, versions, ready))
    if task is not None:
        # The first requests can be answered in safe mode, but tests and benchmarks start
        # measuring at once: give the channel a moment to come up.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ready.wait(), settings.db_connect_timeout)
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if engine is not None:
            await engine.dispose()
