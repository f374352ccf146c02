"""Alembic environment: async engines, one connection handed in by userdir or made here."""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.schema import CreateIndex, SchemaItem

from userdir.config import load_settings
from userdir.db import create_engine
from userdir.models import Base

target_metadata = Base.metadata


def run_on(connection: Connection) -> None:
    def include_object(
        item: SchemaItem, name: str | None, type_: str, reflected: bool, compare_to: object
    ) -> bool:
        # An index declared for some backends only (Index.ddl_if, e.g. PostgreSQL's trigram
        # indexes) is expected only where it would be created: alembic's comparison ignores it.
        condition = getattr(item, "_ddl_if", None)
        if reflected or condition is None:
            return True
        return bool(condition._should_execute(CreateIndex(item), item, connection))

    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=include_object,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_standalone() -> None:
    engine = create_engine(load_settings(os.environ).database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(run_on)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")

connection = context.config.attributes.get("connection")
if connection is not None:
    run_on(connection)
else:
    asyncio.run(run_standalone())
