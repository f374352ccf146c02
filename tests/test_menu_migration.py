"""Revision 0002 on both databases: up, down and up again, keeping the menus it finds."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from userdir import migrations
from userdir.db import create_engine, create_sessionmaker
from userdir.sample import load_menus


async def counts(engine: AsyncEngine) -> tuple[int, int]:
    async with engine.connect() as conn:
        items = (await conn.execute(text("SELECT count(*) FROM item"))).scalar_one()
        links = (await conn.execute(text("SELECT count(*) FROM item_modifier"))).scalar_one()
    return items, links


async def test_0002_up_down_up_keeps_menus(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
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
            row = (await conn.execute(text("SELECT available FROM item ORDER BY id LIMIT 1"))).one()
            assert row.available in (True, 1)  # existing items stay on the menu
    finally:
        await engine.dispose()
