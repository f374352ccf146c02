"""On PostgreSQL every filter and every ordering of /users is served from an index.

A database of its own holds 50,000 users; the page statement that queries/users.py builds for
each field x operator (with a value matching few rows) and for each ordering is EXPLAINed with
its values bound, as the server runs it, and no plan may read the whole table.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests import services
from userdir import migrations
from userdir.db import create_engine
from userdir.directory import TEXT_FIELDS, USER_FIELDS
from userdir.queries.users import count, page_statement, plan
from userdir.schemas.users import OPERATORS, USERS_QUERY

ROWS = 50_000
SUFFIX = "_indexes"
# Usernames are md5 hex, so they are spread over the key space and not in id order.
LOAD = text(
    """
    INSERT INTO users (id, username, type, image_url, profile_url)
    SELECT g, n.name,
           CASE WHEN g % 1000 = 0 THEN 'Bot' WHEN g % 10 = 0 THEN 'Organization' ELSE 'User' END,
           'https://avatars.example.test/u/' || g || '?v=4',
           'https://example.test/' || n.name
    FROM generate_series(1, :rows) AS g,
         LATERAL (SELECT 'u' || substr(md5(g::text), 1, 12) AS name) AS n
    """
)
SELECTIVE = ROWS // 100  # a value "matching few rows" matches at most 1% of them


def name(user_id: int) -> str:
    return "u" + hashlib.md5(str(user_id).encode()).hexdigest()[:12]


def avatar(user_id: int) -> str:
    return f"https://avatars.example.test/u/{user_id}?v=4"


def profile(user_id: int) -> str:
    return f"https://example.test/{name(user_id)}"


ONE = 31337
SOME = (5, ONE, 40000)
# field -> operator -> a value matching few rows (`ne` matches nearly all: no value can help).
VALUES: dict[str, dict[str, str]] = {
    "id": {
        "eq": str(ONE),
        "ne": str(ONE),
        "gt": str(ROWS - 10),
        "gte": str(ROWS - 10),
        "lt": "10",
        "lte": "10",
        "in": ",".join(map(str, SOME)),
    },
    "username": {
        "eq": name(ONE),
        "ne": name(ONE),
        "gt": "ufff",
        "gte": "ufff",
        "lt": "u000",
        "lte": "u000",
        "in": ",".join(name(i) for i in SOME),
        "contains": name(ONE)[3:10],
        "icontains": name(ONE)[3:10].upper(),
        "startswith": name(ONE)[:6],
    },
    "type": {
        "eq": "Bot",
        "ne": "User",
        "gt": "User",
        "gte": "Users",
        "lt": "C",
        "lte": "Bot",
        "in": "Bot,Robot",
        "contains": "Bot",
        "icontains": "bOT",
        "startswith": "Bo",
    },
    "image_url": {
        "eq": avatar(ONE),
        "ne": avatar(ONE),
        "gt": avatar(9999)[:-4],
        "gte": avatar(9999)[:-4],
        "lt": avatar(10)[:-4],
        "lte": avatar(10)[:-4],
        "in": ",".join(avatar(i) for i in SOME),
        "contains": f"/u/{ONE}?",
        "icontains": f"/U/{ONE}?V=4",
        "startswith": avatar(3133)[:-4],
    },
    "profile_url": {
        "eq": profile(ONE),
        "ne": profile(ONE),
        "gt": profile(1)[:-12] + "fff",
        "gte": profile(1)[:-12] + "fff",
        "lt": profile(1)[:-12] + "000",
        "lte": profile(1)[:-12] + "000",
        "in": ",".join(profile(i) for i in SOME),
        "contains": name(ONE)[2:9],
        "icontains": name(ONE)[2:9].upper(),
        "startswith": profile(ONE)[:-7],
    },
}
FILTERS = [
    f"{field}={value}" if operator == "eq" else f"{field}__{operator}={value}"
    for field in USER_FIELDS
    for operator in ("eq", *OPERATORS[field])
    for value in [VALUES[field][operator]]
]
ORDERINGS = [f"{sign}{field}" for field in USER_FIELDS for sign in ("", "-")]


async def _load(url: str) -> None:
    engine = create_engine(url)
    try:
        # Loaded before 0005, which then changes the collation and builds the trigram indexes
        # over the rows: the migration runs on a populated table, and faster than 50,000
        # inserts into the GIN indexes would.
        await migrations.upgrade(engine, "0004")
        async with engine.begin() as conn:
            await conn.execute(LOAD, {"rows": ROWS})
        await migrations.upgrade(engine)
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE users"))
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def loaded_url(postgresql_url: str) -> Iterator[str]:
    """A database of this module's own (the planner must see only these rows), dropped after."""
    url = services.create_pg_database(SUFFIX)
    try:
        services.run_async(lambda: _load(url))
        yield url
    finally:
        services.drop_pg_database(SUFFIX)


@pytest.fixture
async def engine(loaded_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(loaded_url)
    try:
        yield engine
    finally:
        await engine.dispose()


def table_scans(node: dict[str, Any]) -> list[str]:
    """The whole-table reads of `users` anywhere in a plan."""
    found = []
    if node["Node Type"] == "Seq Scan" and node.get("Relation Name") == "users":
        found.append(f"Seq Scan on users (filter: {node.get('Filter', '-')})")
    for child in node.get("Plans", ()):
        found += table_scans(child)
    return found


def query_of(parameters: str) -> Any:
    return USERS_QUERY.load(dict(pair.split("=", 1) for pair in parameters.split("&")))


async def scans(session: AsyncSession, parameters: str) -> list[str]:
    stmt = page_statement("postgresql", query_of(parameters))
    return table_scans((await plan(await session.connection(), stmt))[0]["Plan"])


async def test_the_values_are_selective(engine: AsyncEngine) -> None:
    """Each value matches few rows (else reading the table would be the right plan)."""
    counted = {}
    async with AsyncSession(engine) as session:
        for parameters in FILTERS:
            if "__ne=" not in parameters:
                total = await count(
                    await session.connection(), query_of(parameters).filters, "exact"
                )
                counted[parameters] = total.value
    assert {p: n for p, n in counted.items() if n > SELECTIVE} == {}
    # and some find rows, so the indexes are tried on real matches, not only on empty ranges
    assert counted["username__icontains=" + VALUES["username"]["icontains"]] == 1
    assert counted["image_url__startswith=" + VALUES["image_url"]["startswith"]] == 11
    assert counted["type__contains=Bot"] == ROWS // 1000


async def test_every_filter_is_served_by_an_index(engine: AsyncEngine) -> None:
    assert len(FILTERS) == 7 + 10 * len(TEXT_FIELDS)
    async with AsyncSession(engine) as session:
        found = {parameters: await scans(session, parameters) for parameters in FILTERS}
    assert {parameters: plans for parameters, plans in found.items() if plans} == {}


async def test_every_ordering_is_served_by_an_index(engine: AsyncEngine) -> None:
    async with AsyncSession(engine) as session:
        found = {o: await scans(session, f"order_by={o}") for o in ORDERINGS}
        # with a filter that leaves most rows, ordering still walks an index
        found |= {
            f"{o} (type=User)": await scans(session, f"type=User&order_by={o}") for o in ORDERINGS
        }
    assert {ordering: plans for ordering, plans in found.items() if plans} == {}


COLLATIONS = text(
    "SELECT column_name, collation_name FROM information_schema.columns"
    " WHERE table_name = 'users' AND data_type <> 'bigint'"
)
DATABASE_LOCALE = text(
    "SELECT datcollate, datctype FROM pg_database WHERE datname = current_database()"
)


async def test_text_columns_compare_by_code_point(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        collations: dict[str, str] = dict((await conn.execute(COLLATIONS)).all())
        database = (await conn.execute(DATABASE_LOCALE)).one()
    assert collations == dict.fromkeys(TEXT_FIELDS, "C")
    # The suite's databases pin their own locale rather than take the server's.
    assert tuple(database) == (services.TEST_COLLATION, services.TEST_COLLATION)
