"""Where queries run: the primary, and read replicas while they are healthy and caught up."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Self

from aiohttp import web
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from userdir.config import Settings
from userdir.db.engines import (
    bounds_statements,
    censored,
    create_engine,
    create_sessionmaker,
    ping,
    serving_options,
)
from userdir.db.faults import DATABASE_FAULTS, Outage
from userdir.db.gate import Gate
from userdir.keys import DATABASE, SETTINGS
from userdir.queries.replicas import replica_lag

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Source:
    name: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]  # plain: writes on the primary
    reads: async_sessionmaker[AsyncSession]  # read-only snapshot transactions
    # Statements that run one by one, each bounded by the connection's statement timeout,
    # without BEGIN or ROLLBACK round trips: one-statement reads. None where each read must
    # carry its own bound in a transaction (through PgBouncer).
    direct: AsyncEngine | None
    # Checkouts in arrival order (userdir.db.gate); None: the pool's own order (SQLite).
    gate: Gate | None

    async def acquire(self) -> None:
        """Wait for this source's turn to hold a session; pair with release()."""
        if self.gate is not None:
            await self.gate.acquire()

    def release(self) -> None:
        if self.gate is not None:
            self.gate.release()

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Hold this source's turn for the block (acquire, then release)."""
        await self.acquire()
        try:
            yield
        finally:
            self.release()

    @classmethod
    def create(cls, name: str, url: str, settings: Settings) -> Self:
        engine = create_engine(url, pgbouncer=settings.db_pgbouncer, **serving_options(settings))
        reading = engine
        direct: AsyncEngine | None = None
        if engine.dialect.name == "sqlite":
            direct = engine  # its driver opens no transaction for a SELECT: reads are direct
        elif not settings.db_pgbouncer:
            direct = engine.execution_options(isolation_level="AUTOCOMMIT")
        capacity = settings.db_pool_size + settings.db_pool_overflow
        if engine.dialect.name == "postgresql":
            # One snapshot for all of a response's queries; READ ONLY also keeps a read that
            # lands on the primary from writing by mistake. (asyncpg takes both as BEGIN
            # options: no extra round trip.)
            reading = engine.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        return cls(
            name,
            engine,
            create_sessionmaker(engine),
            async_sessionmaker(reading, expire_on_commit=False),
            direct,
            None if engine.dialect.name == "sqlite" else Gate(capacity, settings.db_pool_timeout),
        )


@dataclass(eq=False)
class Replica(Source):
    healthy: bool = False  # until the first check says otherwise
    lag: float | None = None  # seconds behind the primary, as last measured
    failed_at: float = 0.0  # when a read last failed on it (loop time)
    checker: asyncio.Task[None] | None = field(default=None, repr=False)


class Database:
    def __init__(self, settings: Settings) -> None:
        self.backend = make_url(settings.database_url).get_backend_name()
        self.statement_timeout = settings.db_statement_timeout
        self.bounds_connections = bounds_statements(settings)
        self.max_lag = settings.replica_max_lag
        self.primary = Source.create("primary", settings.database_url, settings)
        self.replicas = [
            Replica.create(f"replica {censored(url)}", url, settings)
            for url in settings.database_replica_urls
        ]
        self.outage = Outage()
        self._turn = 0

    def read_source(self) -> Source:
        """A healthy replica, taken in turn; the primary when none qualifies."""
        healthy = [r for r in self.replicas if r.healthy]
        if not healthy:
            return self.primary
        self._turn += 1
        return healthy[self._turn % len(healthy)]

    def source_failed(self, source: Source, exc: BaseException) -> None:
        if isinstance(source, Replica):
            source.failed_at = asyncio.get_running_loop().time()
        if isinstance(source, Replica) and source.healthy:
            source.healthy = False  # until its checker reaches it again
            log.warning("%s failed (%s): reading from others", source.name, type(exc).__name__)

    async def watch(self, replica: Replica, interval: float) -> None:
        """Measure the replica's lag in the background, never on a request's path."""
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                async with replica.engine.connect() as conn:
                    lag = await replica_lag(conn)
            except DATABASE_FAULTS as exc:
                lag, reason = None, type(exc).__name__
            else:
                reason = "lagging" if lag is None or lag > self.max_lag else ""
                if replica.failed_at >= started:
                    # A read failed there while this check ran (a standby shutting down still
                    # answers a check it had begun): the next check decides.
                    reason = "a read failed"
            healthy = not reason
            if healthy != replica.healthy:
                state = "in use" if healthy else f"skipped ({reason})"
                log.warning("%s: %s", replica.name, state)
            replica.healthy, replica.lag = healthy, lag
            await asyncio.sleep(interval)

    async def dispose(self) -> None:
        for replica in self.replicas:
            if replica.checker is not None:
                replica.checker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await replica.checker
        for source in (self.primary, *self.replicas):
            await source.engine.dispose()


async def database_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    database = Database(settings)
    log.info("database: %s", censored(settings.database_url))
    try:
        # One round-trip now, so a wrong URL fails at start-up rather than on the first request.
        await ping(database.primary.engine)
        for replica in database.replicas:
            replica.checker = asyncio.create_task(
                database.watch(replica, settings.replica_check_interval)
            )
        app[DATABASE] = database
        yield
    finally:
        await database.dispose()
