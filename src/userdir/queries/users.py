"""Users: pages, counts, export, lookup and bulk upsert."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import BigInteger, Select, Text, bindparam, delete, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.expression import Executable

from userdir.errors import NotFound
from userdir.models import User
from userdir.queries import dialect
from userdir.queries.user_filters import COLUMNS, Filter, Ordering, keyset, order_clauses, where
from userdir.queries.versions import bump_version

# Counting stops here: below it a count is exact and cheap; above it PostgreSQL's planner
# estimate stands in, so a count never scans a million rows unless count=exact asks for it.
EXACT_COUNT_LIMIT = 10_000
EXPORT_BATCH = 1000


@dataclass(frozen=True, slots=True)
class Page:
    rows: Sequence[User]  # in the requested order, whichever way the cursor points
    more: bool  # rows exist beyond this page in the direction of travel


@dataclass(frozen=True, slots=True)
class Count:
    value: int
    exact: bool


def _selection(
    session: AsyncSession,
    filters: Sequence[Filter],
    order_by: Ordering,
    after: Sequence[Any] | None = None,
    before: Sequence[Any] | None = None,
) -> Select[User]:
    conditions = where(filters, dialect(session))
    if after is not None:
        conditions.append(keyset(order_by, after))
    if before is not None:
        conditions.append(keyset(order_by, before, reverse=True))
    return select(User).where(*conditions)


async def list_users(
    session: AsyncSession,
    *,
    filters: Sequence[Filter],
    order_by: Ordering,
    limit: int,
    offset: int = 0,
    after: Sequence[Any] | None = None,
    before: Sequence[Any] | None = None,
) -> Page:
    """One page; with `before`, the `limit` rows just before that key, still in order."""
    backwards = before is not None
    stmt = (
        _selection(session, filters, order_by, after, before)
        .order_by(*order_clauses(order_by, reverse=backwards))
        .limit(limit + 1)  # one more than asked tells whether another page follows
        .offset(offset)
    )
    rows = list((await session.scalars(stmt)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows[::-1] if backwards else rows, more)


async def stream_users(
    session: AsyncSession,
    *,
    filters: Sequence[Filter],
    order_by: Ordering,
    after: Sequence[Any] | None = None,
) -> AsyncIterator[User]:
    """Every matching row, read through a server-side cursor in batches, never all at once."""
    stmt = (
        _selection(session, filters, order_by, after)
        .order_by(*order_clauses(order_by))
        .execution_options(yield_per=EXPORT_BATCH)
    )
    async for user in await session.stream_scalars(stmt):
        yield user


async def _planner_estimate(session: AsyncSession, stmt: Select[Any]) -> int:
    compiled = stmt.compile(
        dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True}
    )
    # EXPLAIN takes the statement as compiled, with its values still bound parameters.
    params = tuple(compiled.params[name] for name in compiled.positiontup or ())
    connection = await session.connection()
    result = await connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", params)
    plan = result.scalar_one()
    data = orjson.loads(plan) if isinstance(plan, str | bytes) else plan
    return int(data[0]["Plan"]["Plan Rows"])


async def count_users(session: AsyncSession, *, filters: Sequence[Filter], mode: str) -> Count:
    """`exact` counts every row; `estimated` counts up to EXACT_COUNT_LIMIT exactly and
    leaves larger sets to PostgreSQL's planner (SQLite has no estimate and counts exactly)."""
    matching = select(User.id).where(*where(filters, dialect(session)))
    if mode == "exact" or dialect(session) != "postgresql":
        total = await session.scalar(select(func.count()).select_from(matching.subquery()))
        return Count(int(total or 0), True)
    estimate = await _planner_estimate(session, matching)
    if estimate > EXACT_COUNT_LIMIT:
        return Count(estimate, False)
    bounded = matching.limit(EXACT_COUNT_LIMIT + 1).subquery()
    total = int(await session.scalar(select(func.count()).select_from(bounded)) or 0)
    if total > EXACT_COUNT_LIMIT:
        return Count(max(estimate, total), False)
    return Count(total, True)


async def get_user(session: AsyncSession, *, username: str) -> User:
    # No stored name holds a NUL (PostgreSQL text cannot), and asyncpg rejects one in a query.
    if "\x00" in username:
        raise NotFound(f"No user named {username!r}.")
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
        if dialect(session) == "postgresql":
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
