"""The database engine: creation, SQLite pragmas, and the app's cleanup context."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from userdir.keys import ENGINE, SESSIONMAKER, SETTINGS

log = logging.getLogger(__name__)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # SQLite enforces foreign keys (and so ON DELETE CASCADE) only when asked, per connection.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def create_engine(database_url: str, **kwargs: Any) -> AsyncEngine:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: objects stay readable after commit without a hidden reload.
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(engine: AsyncEngine) -> None:
    """One round-trip to the database; raises when it cannot be reached."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


def censored(database_url: str) -> str:
    return make_url(database_url).render_as_string(hide_password=True)


async def engine_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    engine = create_engine(settings.database_url)
    log.info("database: %s", censored(settings.database_url))
    try:
        # One round-trip now, so a wrong URL fails at start-up rather than on the first request.
        await ping(engine)
        app[ENGINE] = engine
        app[SESSIONMAKER] = create_sessionmaker(engine)
        yield
    finally:
        await engine.dispose()
