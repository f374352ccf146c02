"""A /users count is taken once per data version, filters and mode, and never outlives its
version."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.helpers import AppClient, count_statements, eventually
from tests.user_rows import user_rows
from userdir.counts import Counts
from userdir.datasets import USERS, CacheKey
from userdir.directory import Count, Filter
from userdir.keys import COUNTS, DATABASE, VERSIONS
from userdir.queries import dialect
from userdir.queries.users import upsert_users
from userdir.queries.versions import get_version

ROWS = user_rows()
USER_ROWS = sum(1 for r in ROWS if r["type"] == "User")


def is_count(statement: str) -> bool:
    return "count(" in statement or statement.startswith("EXPLAIN")


async def total(client: AppClient, query: str) -> tuple[int, list[str]]:
    with count_statements(client.app[DATABASE].primary.engine) as statements:
        async with client.get(f"/users?{query}") as response:
            assert response.status == 200
            assert response.headers["X-Cache"] == "MISS"
            value = int(response.headers["X-Total-Count"])
    return value, [s for s in statements if is_count(s)]


async def write_and_wait(
    client: AppClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    rows: list[dict[str, object]],
) -> None:
    """Write users as another process would, then wait until the app has heard of it."""
    async with sessionmaker.begin() as session:
        await upsert_users(session, rows)
        written = await get_version(session, USERS)

    async def learned() -> bool:
        return client.app[VERSIONS].current(USERS) == written

    await eventually(learned)


async def test_a_count_is_taken_once_per_version(
    client: AppClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await write_and_wait(client, sessionmaker, ROWS)
    value, counted = await total(client, "type=User&pagination=2")
    assert value == USER_ROWS and counted != []
    # Other pages of the same filters: not cached as responses, but their count is known.
    for page in (2, 3):
        assert await total(client, f"type=User&pagination=2&page_number={page}") == (USER_ROWS, [])
    # Another mode or other filters are counts of their own.
    assert (await total(client, "type=User&pagination=2&count=exact"))[1] != []
    assert (await total(client, "type=Bot&pagination=2"))[1] != []
    assert len(client.app[COUNTS]) == 3

    await write_and_wait(
        client, sessionmaker, [{**ROWS[0], "id": 1, "username": "new", "type": "User"}]
    )
    value, counted = await total(client, "type=User&pagination=2&page_number=4")
    assert value == USER_ROWS + 1 and counted != []


def test_counts_keep_the_most_recently_used() -> None:
    counts = Counts(kept=2)
    at_1, at_2 = counts.at(CacheKey(USERS, 1, "")), counts.at(CacheKey(USERS, 2, ""))
    users, bots = (Filter("type", "eq", "User"),), (Filter("type", "eq", "Bot"),)
    at_1.put(users, "estimated", Count(5, True))
    at_1.put(bots, "estimated", Count(2, True))
    assert at_1.get(users, "estimated") == Count(5, True)  # now the most recently used
    at_2.put(users, "estimated", Count(6, True))  # evicts bots at version 1
    assert at_1.get(bots, "estimated") is None
    assert at_1.get(users, "estimated") == Count(5, True)
    assert at_2.get(users, "estimated") == Count(6, True)
    assert at_2.get(users, "exact") is None
    # Without a version nothing is kept: a count could not be told apart from a newer one.
    unversioned = counts.at(None)
    unversioned.put(bots, "exact", Count(1, True))
    assert unversioned.get(bots, "exact") is None and len(counts) == 2


def large_rows() -> list[dict[str, Any]]:
    """20,000 users: the first 11,000 share type, image and profile (so the three filters
    together select exactly those), the rest spread over other values."""
    rows = []
    for n in range(1, LARGE + 1):
        shared = n <= SHARED
        rows.append(
            {
                "id": n,
                "username": f"user{n:05d}",
                "type": "User" if shared else ["Organization", "Bot"][n % 2],
                "image_url": "https://i.test/a" if shared else f"https://i.test/{n % 50}",
                "profile_url": "https://p.test/a" if shared else f"https://p.test/{n % 40}",
            }
        )
    return rows


LARGE, SHARED = 20_000, 11_000
TOGETHER = "type=User&image_url=https://i.test/a&profile_url=https://p.test/a"


async def counted(client: AppClient, query: str) -> tuple[str, int]:
    async with client.get(f"/users?{query}&pagination=1") as response:
        assert response.status == 200
        return response.headers["X-Total-Count-Kind"], int(response.headers["X-Total-Count"])


async def test_counts_above_ten_thousand(
    client: AppClient, sessionmaker: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    async with sessionmaker.begin() as session:
        await upsert_users(session, large_rows())
        if dialect(session) == "postgresql":
            await session.execute(text("ANALYZE users"))  # the planner's figures, up to date
    assert await counted(client, "type=User&count=exact") == ("exact", SHARED)
    assert await counted(client, f"{TOGETHER}&count=exact") == ("exact", SHARED)
    assert await counted(client, "type=Bot") == ("exact", (LARGE - SHARED) // 2)
    if not database_url.startswith("postgresql"):
        # SQLite has no estimate: the default counts exactly.
        assert await counted(client, "type=User") == ("exact", SHARED)
        assert await counted(client, TOGETHER) == ("exact", SHARED)
        return
    # The planner puts the set above 10,000: its estimate stands, no row is counted.
    kind, value = await counted(client, "type=User")
    assert kind == "estimated" and abs(value - SHARED) <= SHARED // 10, value
    # The planner multiplies the three filters' selectivities (about 3,300 rows), so it counts,
    # stops after 10,001 rows, and says that this is a floor, not the total.
    assert await counted(client, TOGETHER) == ("estimated", 10_001)
