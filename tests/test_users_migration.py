"""The users index revision: up, down, up again, and the models match the migrated schema."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from userdir import migrations
from userdir.db import create_engine
from userdir.models import Base


async def test_stairway_and_models_match(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'stairs.db'}")
    try:
        for target in ("0003_users", "0001", "head"):
            if target == "0001":
                await migrations.downgrade(engine, target)
            else:
                await migrations.upgrade(engine, target)
            async with engine.connect() as conn:
                names = await conn.run_sync(
                    lambda c: {i["name"] for i in inspect(c).get_indexes("users")}
                )
            assert ("ix_users_type_username" in names) == (target != "0001")
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata)
            )
        assert diff == []
    finally:
        await engine.dispose()
