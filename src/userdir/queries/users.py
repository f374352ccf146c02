"""Users: listing, counting, lookup and bulk upsert."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from userdir.errors import NotFound
from userdir.models import User
from userdir.queries.versions import bump_version

# The only columns a request may name: identifiers never come from the request itself.
COLUMNS: Mapping[str, Any] = {
    name: getattr(User, name) for name in ("id", "username", "type", "image_url", "profile_url")
}
UPSERT_CHUNK = 1000  # 5 bound parameters a row: far below SQLite's 32,766 limit


def _where(filters: Mapping[str, Any]) -> list[ColumnElement[bool]]:
    return [COLUMNS[name] == value for name, value in sorted(filters.items())]


async def list_users(
    session: AsyncSession,
    *,
    filters: Mapping[str, Any],
    order_by: str,
    limit: int,
    offset: int,
) -> Sequence[User]:
    column = COLUMNS[order_by]
    # id breaks ties so pages are deterministic whatever the ordering column.
    ordering = [column] if order_by == "id" else [column, User.id]
    stmt = select(User).where(*_where(filters)).order_by(*ordering).limit(limit).offset(offset)
    return (await session.scalars(stmt)).all()


async def count_users(session: AsyncSession, *, filters: Mapping[str, Any]) -> int:
    stmt = select(func.count()).select_from(User).where(*_where(filters))
    return int((await session.execute(stmt)).scalar_one())


async def get_user(session: AsyncSession, *, username: str) -> User:
    # No stored name holds a NUL (PostgreSQL text cannot), and asyncpg rejects one in a query.
    if "\x00" in username:
        raise NotFound(f"No user named {username!r}.")
    user = await session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"No user named {username!r}.")
    return user


async def upsert_users(session: AsyncSession, rows: Iterable[Mapping[str, Any]]) -> int:
    """Insert or update users by id, in multi-row statements; returns the number of rows."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    batch = list(rows)
    for start in range(0, len(batch), UPSERT_CHUNK):
        chunk = batch[start : start + UPSERT_CHUNK]
        stmt = insert(User).values(chunk)
        stmt = stmt.on_conflict_do_update(
            index_elements=[User.id],
            set_={name: stmt.excluded[name] for name in COLUMNS if name != "id"},
        )
        await session.execute(stmt)
    await bump_version(session, "users")
    return len(batch)
