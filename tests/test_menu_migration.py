"""Revision 0002 on both databases: up, down and up again, keeping the menus it finds."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from tests import services
from userdir import migrations
from userdir.db import create_engine, create_sessionmaker
from userdir.sample import load_menus


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'stairway.db'}"
        return
    request.getfixturevalue("postgresql_url")  # skips or fails like the other PG tests
    name = f"{services.pg_database_name()}_stairway"
    asyncio.run(services._admin(f'CREATE DATABASE "{name}"'))  # our name, not user input
    base = services.PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(services._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def counts(engine) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    async with engine.connect() as conn:
        items = (await conn.execute(text("SELECT count(*) FROM item"))).scalar_one()
        links = (await conn.execute(text("SELECT count(*) FROM item_modifier"))).scalar_one()
    return items, links


def test_0002_up_down_up_keeps_menus(empty_database: str) -> None:
    async def run() -> None:
        engine = create_engine(empty_database)
        try:
            await migrations.upgrade(engine)
            async with create_sessionmaker(engine).begin() as session:
                await load_menus(session)
            before = await counts(engine)
            await migrations.downgrade(engine, "0001")
            assert await counts(engine) == before  # no rebuild emptied item_modifier
            await migrations.upgrade(engine)
            assert await counts(engine) == before
            async with engine.begin() as conn:
                # The models and the migrations describe the same schema.
                await conn.run_sync(lambda c: command.check(migrations.alembic_config(c)))
                row = (
                    await conn.execute(text("SELECT available FROM item ORDER BY id LIMIT 1"))
                ).one()
                assert row.available in (True, 1)  # existing items stay on the menu
        finally:
            await engine.dispose()

    asyncio.run(run())
