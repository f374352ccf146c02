"""Migrations on empty databases: the stairway (up, down, up per revision) and head + app."""

from __future__ import annotations

from alembic import command
from alembic.script import ScriptDirectory
from pytest_aiohttp import AiohttpClient
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import get_json
from userdir import migrations
from userdir.app import create_app
from userdir.config import Settings
from userdir.db import create_engine
from userdir.models import Base

REVISIONS = [
    r.revision
    for r in reversed(
        list(ScriptDirectory.from_config(migrations.alembic_config()).walk_revisions())
    )
]


async def tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


async def test_stairway(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    try:
        previous = "base"
        for revision in REVISIONS:
            await migrations.upgrade(engine, revision)
            await migrations.downgrade(engine, previous)
            await migrations.upgrade(engine, revision)
            previous = revision
        assert await tables(engine) == {t.name for t in Base.metadata.sorted_tables} | {
            "alembic_version"
        }
        async with engine.begin() as conn:
            # The models and the migrations describe the same schema (alembic check).
            await conn.run_sync(lambda c: command.check(migrations.alembic_config(c)))
        await migrations.downgrade(engine, "base")
        assert await tables(engine) == {"alembic_version"}
    finally:
        await engine.dispose()


async def test_head_on_an_empty_database_then_the_app_works(
    empty_database_url: str,
    aiohttp_client: AiohttpClient,
) -> None:
    engine = create_engine(empty_database_url)
    try:
        await migrations.upgrade(engine)
    finally:
        await engine.dispose()
    client = await aiohttp_client(create_app(Settings(database_url=empty_database_url)))
    assert await get_json(client, "/users") == []
    await get_json(client, "/restaurant/1/item", expected_status=404)
    assert (await get_json(client, "/healthz"))["database"] == "ok"
