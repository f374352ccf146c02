"""Engines: pool settings, SQLite pragmas, PgBouncer compatibility, one ping."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from userdir.config import Settings
from userdir.queries import PING


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # SQLite enforces foreign keys (and so ON DELETE CASCADE) only when asked, per connection.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _statement_name() -> str:
    # Through PgBouncer's transaction pooling, consecutive transactions may land on different
    # server connections: asyncpg's numbered statement names would collide there.
    return f"__userdir_{uuid.uuid4().hex}__"


def server_settings(settings: Settings) -> dict[str, str]:
    """PostgreSQL settings of every serving connection, sent when it opens."""
    # The service's statements are short and indexed; JIT compiling pays only for long
    # analytic queries, and a recursive CTE's row estimate (millions, where a menu walk reads
    # a few links) would set it off: 180 ms of compiling for a 1 ms query.
    options = {"jit": "off"}
    if settings.db_statement_timeout > 0:
        # Every statement is bounded from its start, so a read needs no transaction to carry
        # the bound (writes lift it: userdir.db.sessions.writer).
        options["statement_timeout"] = str(int(settings.db_statement_timeout * 1000))
    return options


def bounds_statements(settings: Settings) -> bool:
    """Whether every serving connection carries the reads' statement timeout (see
    server_settings): PostgreSQL, not behind PgBouncer, a timeout set."""
    backend = make_url(settings.database_url).get_backend_name()
    return (
        backend == "postgresql" and not settings.db_pgbouncer and settings.db_statement_timeout > 0
    )


def serving_options(settings: Settings) -> dict[str, object]:
    """Pool and driver settings of the serving engines: every wait is bounded."""
    if make_url(settings.database_url).get_backend_name() == "sqlite":
        return {}
    connect_args: dict[str, object] = {"timeout": settings.db_connect_timeout}
    if not settings.db_pgbouncer:
        # PgBouncer refuses start-up parameters it does not track: behind it, the bound is set
        # in each read transaction and JIT is the role's setting (README: PgBouncer); its
        # driver settings come with create_engine(pgbouncer=True).
        connect_args["server_settings"] = server_settings(settings)
    return {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_pool_overflow,
        "pool_timeout": settings.db_pool_timeout,
        "connect_args": connect_args,
    }


def create_engine(database_url: str, *, pgbouncer: bool = False, **kwargs: object) -> AsyncEngine:
    """An engine on SQLite or PostgreSQL. pgbouncer (DB_PGBOUNCER): the URL is a PgBouncer in
    transaction pooling mode, so no prepared statement may outlive its transaction; every
    engine of the service (serving, migrations, seeding) is made here and honours it."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    if pgbouncer:
        given = kwargs.get("connect_args") or {}
        assert isinstance(given, dict)
        kwargs["connect_args"] = {
            **given,
            "statement_cache_size": 0,  # asyncpg's own cache
            "prepared_statement_cache_size": 0,  # SQLAlchemy's asyncpg adapter's cache
            "prepared_statement_name_func": _statement_name,
        }
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    # No ping per checkout (a round trip on every request): a connection found dead is
    # invalidated with the rest of the pool, and reads that hit one are retried
    # (userdir.errors), so a restart of the database costs no failed read.
    kwargs.setdefault("pool_pre_ping", False)
    return create_async_engine(url, **kwargs)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: objects stay readable after commit without a hidden reload.
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(engine: AsyncEngine) -> None:
    """One round-trip to the database; raises when it cannot be reached."""
    async with engine.connect() as conn:
        await conn.execute(PING)


def censored(database_url: str) -> str:
    return make_url(database_url).render_as_string(hide_password=True)
