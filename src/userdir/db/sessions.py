"""Sessions as handlers use them: `reader` for a GET's queries, `writer` for a transaction.

A read is one read-only transaction (on PostgreSQL a REPEATABLE READ snapshot, so every query
of a response sees the same data) on a replica when one is healthy and caught up, else on the
primary. A write is one transaction on the primary; once it commits, this process knows the
data versions it bumped, so its next read sees the write.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from userdir.datasets import CacheKey, Dataset
from userdir.db.faults import is_retryable
from userdir.db.sources import Database, Source
from userdir.keys import DATABASE, VERSIONS
from userdir.queries.versions import BUMPED, read_start


@dataclass(frozen=True, slots=True)
class Snapshot:
    session: AsyncSession
    # The response's cache key at the version this snapshot shows (None: not cached).
    key: CacheKey | None


async def _begin(
    database: Database, source: Source, dataset: Dataset | None
) -> tuple[AsyncSession, int]:
    """A read session on `source` whose first statement has run; with the data version."""
    session = source.reads()
    try:
        stmt = read_start(database.backend, dataset, database.statement_timeout)
        if stmt is None:
            return session, 0
        row = (await (await session.connection()).execute(stmt)).one()
        version: int | None = row[-1] if dataset is not None else 0
        return session, int(version or 0)
    except BaseException as exc:
        await session.close()
        database.source_failed(source, exc)
        raise


@asynccontextmanager
async def reader(request: web.Request, key: CacheKey | None = None) -> AsyncIterator[Snapshot]:
    database = request.app[DATABASE]
    source = database.read_source()
    dataset = None if key is None else key.dataset
    session, version = await _begin(database, source, dataset)
    if key is not None and version < key.version and source is not database.primary:
        # This replica has not replayed a write this process already knows of: the rows it
        # would show are older than what a client of this process may have seen.
        await session.close()
        source = database.primary
        session, version = await _begin(database, source, dataset)
    if key is not None and version > key.version:
        request.app[VERSIONS].learn(key.dataset, version)  # a write not announced yet
    try:
        yield Snapshot(session, None if key is None else key.at(version))
    except BaseException as exc:
        if is_retryable(exc):
            database.source_failed(source, exc)
        raise
    finally:
        await session.close()
    database.outage.cleared()


@asynccontextmanager
async def writer(request: web.Request) -> AsyncIterator[AsyncSession]:
    database = request.app[DATABASE]
    async with database.primary.sessions.begin() as session:
        yield session
    # Committed: this process's next read must not be answered from before this write.
    request.app[VERSIONS].learn_all(session.info.get(BUMPED, {}))
    database.outage.cleared()
