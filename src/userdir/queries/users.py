"""Users: listing, counting, lookup and bulk upsert."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import delete, func, select, tuple_
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
    user = await session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"No user named {username!r}.")
    return user


async def upsert_users(session: AsyncSession, rows: Iterable[Mapping[str, Any]]) -> int:
    """Insert or update users by id, in multi-row statements; returns the number of rows.

    A login GitHub freed (by a rename) and another account took is given up by the row that
    held it: that row is deleted, and comes back under its new login when its id is read again.
    """
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    # The last record of an id wins: one statement may not touch a row twice (PostgreSQL).
    batch = list({row["id"]: row for row in rows}.values())
    for start in range(0, len(batch), UPSERT_CHUNK):
        chunk = batch[start : start + UPSERT_CHUNK]
        await session.execute(
            delete(User)
            .where(User.username.in_([row["username"] for row in chunk]))
            .where(tuple_(User.id, User.username).not_in([(r["id"], r["username"]) for r in chunk]))
            .execution_options(synchronize_session=False)
        )
        stmt = insert(User).values(chunk)
        stmt = stmt.on_conflict_do_update(
            index_elements=[User.id],
            set_={name: stmt.excluded[name] for name in COLUMNS if name != "id"},
        )
        await session.execute(stmt)
    await bump_version(session, "users")
    return len(batch)
