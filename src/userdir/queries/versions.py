"""Data versions: read on every cached GET, bumped inside every write transaction."""

from __future__ import annotations

import time

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from userdir.models import DataVersion
from userdir.queries import dialect


async def get_version(session: AsyncSession, name: str) -> int:
    version = await session.scalar(select(DataVersion.version).where(DataVersion.name == name))
    return int(version or 0)


async def bump_version(session: AsyncSession, name: str) -> None:
    """Increment `name`'s version; call inside the transaction that writes the data."""
    result = await session.execute(
        update(DataVersion)
        .where(DataVersion.name == name)
        .values(version=DataVersion.version + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        insert = pg_insert if dialect(session) == "postgresql" else sqlite_insert
        # A first version (a new or reset database) starts from the clock, not from 1, so it
        # cannot repeat a version that keys responses cached before the reset.
        stmt = insert(DataVersion).values(name=name, version=time.time_ns() // 1000)
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=[DataVersion.name],
                set_={"version": DataVersion.version + 1},
            )
        )
