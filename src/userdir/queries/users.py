"""Users: pages, counts, export, lookup and bulk upsert; rows come back as `UserRow`s."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import BigInteger, Select, Text, bindparam, delete, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.expression import Executable

from userdir.counts import NOT_KEPT, CountsAt
from userdir.datasets import USERS
from userdir.directory import Count, Filter, Page, SortKey, SortTerm, UserRow, UsersQuery
from userdir.errors import NotFound
from userdir.models import User
from userdir.queries import dialect
from userdir.queries.user_filters import COLUMNS, keyset, order_clauses, where
from userdir.queries.versions import bump_version

# Counting stops here: below it a count is exact and cheap; above it PostgreSQL's planner
# estimate stands in, so a count never scans a million rows unless count=exact asks for it.
EXACT_COUNT_LIMIT = 10_000
EXPORT_BATCH = 1000
PAGE_STATEMENTS_KEPT = 1024

USER_TABLE = User.metadata.tables["users"]  # the Core table: reads and bulk writes skip the ORM


def _selection(
    dialect: str,
    filters: Sequence[Filter],
    order_by: Sequence[SortTerm],
    after: SortKey | None = None,
    before: SortKey | None = None,
) -> Select[Any]:
    conditions = where(filters, dialect)
    if after is not None:
        conditions.append(keyset(order_by, after))
    if before is not None:
        conditions.append(keyset(order_by, before, reverse=True))
    return select(*USER_TABLE.c).where(*conditions)


# Building a page's statement was about 8% of a cache miss's CPU (py-spy); a query (a frozen
# value) maps to one immutable statement, so the busiest are kept and shared.
@functools.lru_cache(maxsize=PAGE_STATEMENTS_KEPT)
def page_statement(dialect: str, query: UsersQuery) -> Select[Any]:
    """The statement of one page; with `before`, in reverse, so the rows nearest it come first."""
    size = query.pagination
    return (
        _selection(dialect, query.filters, query.order_by, query.after_key, query.before_key)
        .order_by(*order_clauses(query.order_by, reverse=query.backwards))
        .limit(size + 1)  # one more than asked tells whether another page follows
        .offset((query.page_number - 1) * size)
    )


async def page(connection: AsyncConnection, query: UsersQuery, counts: CountsAt = NOT_KEPT) -> Page:
    """One page, with the count the query asks for (taken from `counts` when known there);
    with `before`, the rows just before that key, still in order."""
    size = query.pagination
    stmt = page_statement(dialect(connection), query)
    result = await connection.execute(stmt)
    rows = [UserRow(*row) for row in result.all()]
    more = len(rows) > size
    rows = rows[:size]
    if query.backwards:
        rows.reverse()
    total = None
    if query.count != "none":
        total = counts.get(query.filters, query.count)
        if total is None:
            total = await count(connection, query.filters, query.count)
            counts.put(query.filters, query.count, total)
    return Page(tuple(rows), more, total)


async def stream(session: AsyncSession, query: UsersQuery) -> AsyncIterator[UserRow]:
    """Every matching row from `after` on, through a server-side cursor in batches."""
    stmt = (
        _selection(dialect(session), query.filters, query.order_by, query.after_key)
        .order_by(*order_clauses(query.order_by))
        .execution_options(yield_per=EXPORT_BATCH)
    )
    async for row in await (await session.connection()).stream(stmt):
        yield UserRow(*row)


async def plan(connection: AsyncConnection, stmt: Select[Any]) -> Any:
    """PostgreSQL's plan of `stmt` (EXPLAIN, FORMAT JSON), planned for its bound values."""
    compiled = stmt.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
    # EXPLAIN takes the statement as compiled, with its values still bound parameters.
    params = tuple(compiled.params[name] for name in compiled.positiontup or ())
    result = await connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", params)
    found = result.scalar_one()
    return orjson.loads(found) if isinstance(found, str | bytes) else found


async def count(connection: AsyncConnection, filters: Sequence[Filter], mode: str) -> Count:
    """`exact` counts every row; `estimated` counts up to EXACT_COUNT_LIMIT exactly and
    leaves larger sets to PostgreSQL's planner (SQLite has no estimate and counts exactly)."""
    backend = dialect(connection)
    matching = select(USER_TABLE.c.id).where(*where(filters, backend))
    if mode == "exact" or backend != "postgresql":
        total = await connection.scalar(select(func.count()).select_from(matching.subquery()))
        return Count(int(total or 0), True)
    estimate = int((await plan(connection, matching))[0]["Plan"]["Plan Rows"])
    if estimate > EXACT_COUNT_LIMIT:
        return Count(estimate, False)
    bounded = matching.limit(EXACT_COUNT_LIMIT + 1).subquery()
    total = int(await connection.scalar(select(func.count()).select_from(bounded)) or 0)
    if total > EXACT_COUNT_LIMIT:
        return Count(max(estimate, total), False)
    return Count(total, True)


async def max_user_id(session: AsyncSession) -> int:
    """The highest id stored (0 when none): where seeding resumes."""
    return int(await session.scalar(select(func.max(USER_TABLE.c.id))) or 0)


async def get_user(connection: AsyncConnection, *, username: str) -> UserRow:
    # No stored name holds a NUL (PostgreSQL text cannot), and asyncpg rejects one in a query.
    if "\x00" in username:
        raise NotFound(f"No user named {username!r}.")
    stmt = select(*USER_TABLE.c).where(USER_TABLE.c.username == username)
    row = (await connection.execute(stmt)).first()
    if row is None:
        raise NotFound(f"No user named {username!r}.")
    return UserRow(*row)


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
    free = delete(USER_TABLE).where(
        USER_TABLE.c.username == pairs.c.username, USER_TABLE.c.id != pairs.c.id
    )
    rows = func.unnest(*(_array(c, c) for c in COLUMNS)).table_valued(*COLUMNS).render_derived()
    insert = pg_insert(USER_TABLE).from_select(list(COLUMNS), select(*rows.c))
    upsert = insert.on_conflict_do_update(
        index_elements=["id"], set_={c: insert.excluded[c] for c in COLUMNS if c != "id"}
    )
    return free, upsert


def _sqlite_statements() -> tuple[Executable, Executable]:
    """SQLite: the same two statements, executed once per row (executemany, in-process)."""
    free = delete(USER_TABLE).where(
        USER_TABLE.c.username == bindparam("username"), USER_TABLE.c.id != bindparam("id")
    )
    insert = sqlite_insert(USER_TABLE)
    upsert = insert.on_conflict_do_update(
        index_elements=["id"], set_={c: insert.excluded[c] for c in COLUMNS if c != "id"}
    )
    return free, upsert


PG_UPSERT = _pg_statements()
SQLITE_UPSERT = _sqlite_statements()


async def upsert_users(session: AsyncSession, rows: Iterable[Mapping[str, object]]) -> int:
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
    await bump_version(session, USERS)
    return len(batch)
