"""The suite's PostgreSQL databases do not inherit the server's locale: their collation and
character classes are pinned, so text compares and matches the same on every server."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.services import create_database_sql
from userdir.db import create_engine

ON_POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
LOCALE = text(
    "SELECT datcollate, datctype, pg_encoding_to_char(encoding) FROM pg_database "
    "WHERE datname = current_database()"
)


async def locale(engine: AsyncEngine) -> tuple[str, str, str]:
    async with engine.connect() as conn:
        collate, ctype, encoding = (await conn.execute(LOCALE)).one()
    return collate, ctype, encoding


PINNED = ("C.UTF-8", "C.UTF-8", "UTF8")  # collation, character classes, encoding


def test_databases_are_created_from_template0_with_the_locale_named() -> None:
    """A server whose default locale is already C.UTF-8 would hide a missing clause below:
    the statement names it. template0 is the template that takes any locale."""
    sql = create_database_sql("userdir_test_x")
    assert sql == (
        "CREATE DATABASE \"userdir_test_x\" TEMPLATE template0 ENCODING 'UTF8' "
        "LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'"
    )


@ON_POSTGRESQL
async def test_the_run_database_has_the_pinned_locale(engine: AsyncEngine) -> None:
    assert await locale(engine) == PINNED


@pytest.mark.parametrize("empty_database_url", ["postgresql"], indirect=True)
async def test_an_empty_database_has_the_pinned_locale(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    try:
        assert await locale(engine) == PINNED
    finally:
        await engine.dispose()
