"""Reads and writes as handlers hold them: `direct` for a GET of one statement, `reader` for a
GET of several, `writer` for a transaction.

A read runs on a replica when one is healthy and caught up, else on the primary. A read of one
statement runs `direct`: a pooled connection without an ORM session, no BEGIN or ROLLBACK round
trips, bounded by the connection's statement timeout. Every other read is a snapshot
(`reader`): one read-only transaction (on PostgreSQL REPEATABLE READ), so the statements of a
response agree (a menu's items and their links) and a CSV export can use a server-side cursor.
A write is one transaction on the primary; once it commits, this process knows the data
versions it bumped, so its next read sees the write.

Versions: a response is stored under the version this process knew before its rows were read,
so its rows are never older than its key. On the primary that holds by itself (a version is
known only once committed). A replica may not have replayed it yet: a replica read first reads
the version it holds, and goes to the primary when that is older.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from userdir.datasets import CacheKey, Dataset
from userdir.db.faults import is_retryable
from userdir.db.sources import Database, Source
from userdir.keys import DATABASE, VERSIONS
from userdir.queries.versions import BUMPED, UNBOUNDED, read_start


@dataclass(frozen=True, slots=True)
class Snapshot:
    session: AsyncSession
    # The response's cache key at the version this snapshot shows (None: not cached).
    key: CacheKey | None


@dataclass(frozen=True, slots=True)
class Direct:
    """A one-statement read: a bare connection, no ORM session (its bookkeeping was a third
    of an uncached /users page's CPU)."""

    connection: AsyncConnection
    key: CacheKey | None


# What a read holds open: a snapshot's session, or a direct read's connection.
Held = AsyncSession | AsyncConnection


async def _begin(
    database: Database, source: Source, dataset: Dataset | None, snapshot: bool
) -> tuple[Held, AsyncConnection, int | None]:
    """A read on `source` whose first statement, if it needs one, has run: what it holds, its
    connection, and the version of `dataset` that the source holds, when it was read."""
    await source.acquire()
    held: Held = source.reads() if snapshot or source.direct is None else source.direct.connect()
    on_replica = dataset is not None and source is not database.primary
    # The statement bound travels in the transaction only where the connection has none.
    timeout = 0.0 if database.bounds_connections else database.statement_timeout
    try:
        connection = (
            await held.connection() if isinstance(held, AsyncSession) else await held.start()
        )
        stmt = read_start(database.backend, dataset if on_replica else None, timeout)
        if stmt is None:
            return held, connection, None
        row = (await connection.execute(stmt)).one()
        return held, connection, int(row[-1] or 0) if on_replica else None
    except BaseException as exc:
        await _close(source, held)
        database.source_failed(source, exc)
        raise


async def _close(source: Source, held: Held) -> None:
    try:
        # A connection that never started (the database refused it) has nothing to close.
        if isinstance(held, AsyncSession) or held.sync_connection is not None:
            await held.close()
    finally:
        source.release()


@asynccontextmanager
async def _read(
    request: web.Request, key: CacheKey | None, snapshot: bool
) -> AsyncIterator[tuple[Held, AsyncConnection, CacheKey | None]]:
    database = request.app[DATABASE]
    source = database.read_source()
    dataset = None if key is None else key.dataset
    held, connection, version = await _begin(database, source, dataset, snapshot)
    if key is not None and version is not None and version < key.version:
        # This replica has not replayed a write this process already knows of: the rows it
        # would show are older than what a client of this process may have seen.
        await _close(source, held)
        source = database.primary
        held, connection, version = await _begin(database, source, dataset, snapshot)
    if key is not None and version is not None and version > key.version:
        request.app[VERSIONS].learn(key.dataset, version)  # a write not announced yet
    try:
        try:
            yield held, connection, None if key is None else key.at(version or key.version)
        finally:
            await _close(source, held)
    except BaseException as exc:
        # A connection found dead anywhere in the read, closing included: a failed replica is
        # left out before the read is retried (userdir.errors).
        if is_retryable(exc):
            database.source_failed(source, exc)
        raise
    database.outage.cleared()


@asynccontextmanager
async def reader(request: web.Request, key: CacheKey | None = None) -> AsyncIterator[Snapshot]:
    """A read of several statements that must agree: one read-only snapshot transaction."""
    async with _read(request, key, snapshot=True) as (held, _, at):
        assert isinstance(held, AsyncSession)
        yield Snapshot(held, at)


@asynccontextmanager
async def direct(request: web.Request, key: CacheKey | None = None) -> AsyncIterator[Direct]:
    """A read of one statement, run as it comes (through PgBouncer: in a snapshot, which
    carries its statement bound)."""
    async with _read(request, key, snapshot=False) as (_, connection, at):
        yield Direct(connection, at)


@asynccontextmanager
async def writer(request: web.Request) -> AsyncIterator[AsyncSession]:
    database = request.app[DATABASE]
    async with database.primary.turn(), database.primary.sessions.begin() as session:
        if database.bounds_connections:
            # Reads' statement timeout is the connection's: a write is not bound by it.
            await session.execute(UNBOUNDED)
        yield session
    # Committed: this process's next read must not be answered from before this write.
    request.app[VERSIONS].learn_all(session.info.get(BUMPED, {}))
    database.outage.cleared()
