from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient
from sqlalchemy import delete, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests import services
from tests.helpers import AppClient, MakeClient
from tests.user_rows import user_rows
from userdir import migrations
from userdir.app import create_app
from userdir.config import Settings
from userdir.db import create_engine, create_sessionmaker
from userdir.models import Base
from userdir.queries.users import upsert_users
from userdir.sample import load_sample_data

# Private PostgreSQL, Redis, PgBouncer and nginx servers for tests that stop or break them,
# and the app served on them (tests/fault_app.py).
pytest_plugins = ["tests.servers.fixtures", "tests.fault_app"]

API_TOKEN = "test-token-0123456789"
BACKENDS = ["sqlite", "postgresql"]


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await migrations.upgrade(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("sqlite") / "userdir.db"
    url = f"sqlite+aiosqlite:///{path}"
    services.run_async(lambda: _migrate(url))
    return url


@pytest.fixture(scope="session")
def postgresql_url() -> Iterator[str]:
    url = services.create_pg_database()
    try:
        services.run_async(lambda: _migrate(url))
        yield url
    finally:
        services.drop_pg_database()


@pytest.fixture(scope="session")
def redis_url() -> str:
    return services.check_redis()


@pytest.fixture(params=BACKENDS)
async def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database with no tables at all, on each backend, dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    request.getfixturevalue("postgresql_url")  # skips or fails like the other PG tests
    name = f"{services.pg_database_name()}_empty"
    await services._admin(services.create_database_sql(name))
    base = services.PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        yield f"{base}/{name}"
    finally:
        await services._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> str:
    """Each database test runs once on SQLite and once on PostgreSQL."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


async def _empty(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
            # Ids restart at 1 so every test sees the same ids as a fresh database.
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                await conn.execute(delete(table))


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await _empty(engine)
    try:
        yield engine
    finally:
        await _empty(engine)  # leave nothing behind for the next test
        await engine.dispose()


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


@pytest.fixture
async def rows(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """The reference users of tests/user_rows.py, stored (ties, case variants, wildcards)."""
    async with sessionmaker.begin() as session:
        await upsert_users(session, user_rows())


@pytest.fixture
async def sample(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker.begin() as session:
        await load_sample_data(session)


@pytest.fixture
def settings(database_url: str, engine: AsyncEngine) -> Settings:
    return Settings(database_url=database_url, api_tokens=(API_TOKEN,))


@pytest.fixture
def app(settings: Settings) -> web.Application:
    return create_app(settings)


@pytest.fixture
async def client(aiohttp_client: AiohttpClient, app: web.Application) -> AppClient:
    """A real HTTP client talking to the app on 127.0.0.1."""
    return await aiohttp_client(app)


@pytest.fixture
def make_client(aiohttp_client: AiohttpClient, settings: Settings) -> MakeClient:
    """Build a client for an app with some settings changed."""

    async def make(**changes: Any) -> AppClient:
        return await aiohttp_client(create_app(replace(settings, **changes)))

    return make
