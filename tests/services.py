"""The real PostgreSQL and Redis the suite runs against: one database per test run.

Reachable: used. Unreachable: with CI=true the run fails; elsewhere those tests are skipped
and the reason is printed in the summary.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import asyncpg
import pytest
import redis.asyncio as aioredis

IN_CI = os.environ.get("CI", "").lower() == "true"
RUN_ID = f"{os.getpid()}_{uuid.uuid4().hex[:8]}"
PG_ADMIN_DSN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


T = TypeVar("T")


def run_async(function: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion from synchronous fixture code, even when pytest-asyncio
    already runs a loop in this thread (session fixtures requested from async tests)."""

    async def main() -> T:
        return await function()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, main()).result()


def unavailable(what: str, reason: object) -> None:
    message = f"{what} unreachable ({reason})"
    if IN_CI:
        pytest.fail(f"{message}: CI=true requires it", pytrace=False)
    pytest.skip(f"{message}: SKIPPED the tests that need it")


def pg_database_name() -> str:
    return f"userdir_test_{RUN_ID}"


# The suite's databases never inherit the server's locale: the users' text columns compare in
# code point order by their own collation ("C", see migration 0005), and the database's own
# collation and character classes (pg_trgm's word characters, ILIKE on other columns) are
# pinned here so the tested behaviour is the same on every server.
TEST_COLLATION = "C.UTF-8"


def create_database_sql(name: str) -> str:
    """CREATE DATABASE for the suite's database `name` (ours, never user input)."""
    return (
        f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' "
        f"LC_COLLATE '{TEST_COLLATION}' LC_CTYPE '{TEST_COLLATION}'"
    )


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def create_pg_database(suffix: str = "") -> str:
    """Create this run's database (or another one of this run's, named by `suffix`);
    returns its SQLAlchemy URL."""
    name = pg_database_name() + suffix
    try:
        run_async(lambda: _admin(create_database_sql(name)))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        unavailable(f"PostgreSQL at {PG_ADMIN_DSN}", exc)
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}"


def drop_pg_database(suffix: str = "") -> None:
    name = pg_database_name() + suffix
    run_async(lambda: _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def check_redis() -> str:
    async def ping() -> None:
        client = aioredis.from_url(REDIS_URL, socket_connect_timeout=3)
        try:
            await client.ping()
        finally:
            await client.aclose()

    try:
        run_async(ping)
    except (OSError, aioredis.RedisError) as exc:
        unavailable(f"Redis at {REDIS_URL}", exc)
    return REDIS_URL
