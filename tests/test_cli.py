from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from userdir.db import create_engine
from userdir.models import Item, Restaurant, User, item_modifier
from userdir.sample import MENUS


def userdir(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "userdir.cli", *args],
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
    )


async def counts(database_url: str) -> dict[str, int]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            return {
                getattr(table, "__tablename__", getattr(table, "name", "")): int(
                    (await conn.execute(select(func.count()).select_from(table))).scalar_one()
                )
                for table in (User, Restaurant, Item, item_modifier)
            }
    finally:
        await engine.dispose()


async def test_db_reset_loads_the_sample_data_offline(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    assert userdir("db", "upgrade", database_url=url).returncode == 0
    assert await counts(url) == {"users": 0, "restaurant": 0, "item": 0, "item_modifier": 0}
    for _ in range(2):  # resetting twice gives the same data, not twice the data
        result = userdir("db", "reset", database_url=url)
        assert result.returncode == 0, result.stderr
        assert await counts(url) == {
            "users": 1500,
            "restaurant": len(MENUS),
            "item": sum(len(spec) for spec in MENUS.values()),
            "item_modifier": sum(len(mods) for spec in MENUS.values() for _, _, mods in spec),
        }


def test_unreachable_database_is_one_clear_line(tmp_path: Path) -> None:
    result = userdir("db", "upgrade", database_url="postgresql+asyncpg://postgres@127.0.0.1:1/none")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("userdir: ")
