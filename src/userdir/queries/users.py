"""Users: listing, counting, lookup and bulk upsert."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import BigInteger, Text, bindparam, delete, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.sql.expression import Executable

from userdir.errors import NotFound
from userdir.models import User
from userdir.queries.versions import bump_version

# The only columns a request may name: identifiers never come from the request itself.
COLUMNS: Mapping[str, Any] = {
    name: getattr(User, name) for name in ("id", "username", "type", "image_url", "profile_url")
}


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


USERS = User.metadata.tables["users"]  # the Core table: bulk statements skip the ORM


def _array(name: str, column: str) -> BindParameter[Any]:
    return bindparam(name, type_=ARRAY(BigInteger if column == "id" else Text))


def _pg_statements() -> tuple[Executable, Executable]:
    """PostgreSQL: a page is two statements over arrays, one parameter per column.

    The SQL text is the same whatever the number of rows, so it is compiled and prepared once,
    and PostgreSQL gets the page in one round-trip instead of one per row.
    """
    pairs = (
        func.unnest(_array("ids", "id"), _array("usernames", "username"))
        .table_valued("id", "username")
        .render_derived()
    )
    free = delete(USERS).where(USERS.c.username == pairs.c.username, USERS.c.id != pairs.c.id)
    rows = func.unnest(*(_array(c, c) for c in COLUMNS)).table_valued(*COLUMNS).render_derived()
    insert = pg_insert(USERS).from_select(list(COLUMNS), select(*rows.c))
    upsert = insert.on_conflict_do_update(
        index_elements=["id"], set_={c: insert.excluded[c] for c in COLUMNS if c != "id"}
    )
    return free, upsert


def _sqlite_statements() -> tuple[Executable, Executable]:
    """SQLite: the same two statements, executed once per row (executemany, in-process)."""
    free = delete(USERS).where(
        USERS.c.username == bindparam("username"), USERS.c.id != bindparam("id")
    )
    insert = sqlite_insert(USERS)
    upsert = insert.on_conflict_do_update(
        index_elements=["id"], set_={c: insert.excluded[c] for c in COLUMNS if c != "id"}
    )
    return free, upsert


PG_UPSERT = _pg_statements()
SQLITE_UPSERT = _sqlite_statements()


async def upsert_users(session: AsyncSession, rows: Iterable[Mapping[str, Any]]) -> int:
    """Insert or update users by id; returns the number of rows.

    A login GitHub freed (by a rename) and another account took is given up by the row that
    held it: that row is deleted, and comes back under its new login when its id is read again.
    """
    # The last record of an id wins: one statement may not touch a row twice (PostgreSQL).
    batch = list({row["id"]: row for row in rows}.values())
    if batch:
        if session.get_bind().dialect.name == "postgresql":
            free, upsert = PG_UPSERT
            columns = {c: [row[c] for row in batch] for c in COLUMNS}
            await session.execute(free, {"ids": columns["id"], "usernames": columns["username"]})
            await session.execute(upsert, columns)
        else:
            free, upsert = SQLITE_UPSERT
            await session.execute(free, [{"id": r["id"], "username": r["username"]} for r in batch])
            await session.execute(upsert, batch)
    await bump_version(session, "users")
    return len(batch)
