"""Cache hits cost no query, yet no process serves data older than the bound after a write."""

from __future__ import annotations

import statistics

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.conftest import API_TOKEN
from tests.helpers import (
    AppClient,
    MakeClient,
    count_statements,
    eventually,
    get_json,
    request_json,
)
from userdir.datasets import RESTAURANTS, menu
from userdir.invalidation import LISTENER, Versions
from userdir.keys import DATABASE, VERSIONS
from userdir.queries.menu_writes import update_restaurant

pytestmark = pytest.mark.usefixtures("sample")
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


async def test_a_hit_costs_no_query(client: AppClient) -> None:
    await get_json(client, "/users?type=Organization")
    with count_statements(client.app[DATABASE].primary.engine) as statements:
        async with client.get("/users?type=Organization") as response:
            assert response.status == 200 and response.headers["X-Cache"] == "HIT"
    assert statements == []


async def test_own_writes_are_visible_at_once(client: AppClient) -> None:
    await get_json(client, "/restaurant/1")
    await get_json(client, "/restaurant?pagination=2")
    await request_json(client, "PATCH", "/restaurant/1", json={"name": "Six Guys"}, headers=AUTH)
    # No wait: the writing process applies the versions it bumped right after commit.
    assert (await get_json(client, "/restaurant/1"))["name"] == "Six Guys"
    assert (await get_json(client, "/restaurant?pagination=2"))[0]["name"] == "Six Guys"


async def test_writes_elsewhere_are_visible_within_a_bound(
    client: AppClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    delays = []
    for n in range(10):
        await get_json(client, "/restaurant/1")  # cached now
        async with sessionmaker.begin() as session:  # another process's write
            await update_restaurant(session, restaurant_id=1, changes={"name": f"name {n}"})

        async def seen(name: str = f"name {n}") -> bool:
            return bool((await get_json(client, "/restaurant/1"))["name"] == name)

        delays.append(await eventually(seen, within=1.0))
    # PostgreSQL: NOTIFY at commit, a few ms; SQLite: a poll interval (50 ms). The p99 target
    # (100 ms) is measured by bench/; here, on a busy test machine, the bound is what matters:
    # far below the 20 s a response stays cached.
    assert max(delays) < 0.5, delays
    assert statistics.median(delays) < 0.2, delays


async def test_a_failed_write_announces_nothing(client: AppClient) -> None:
    before = client.app[VERSIONS].current(menu(1))
    await get_json(client, "/restaurant/1/item")
    # ketchup -> burger would close a cycle: 409, rolled back.
    await request_json(
        client, "PUT", "/restaurant/1/item/3/modifiers/1", headers=AUTH, expected_status=409
    )
    assert client.app[VERSIONS].current(menu(1)) == before
    async with client.get("/restaurant/1/item") as response:
        assert response.headers["X-Cache"] == "HIT"


async def test_without_the_channel_each_request_reads_its_version(
    make_client: MakeClient, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's poll comes back within 50 ms; PgBouncer without a LISTEN URL never")
    # Through PgBouncer without DATABASE_LISTEN_URL there is no channel at all.
    client: AppClient = await make_client(db_pgbouncer=True)
    assert client.app[VERSIONS].live is False
    await get_json(client, "/restaurant/1")
    engine = client.app[DATABASE].primary.engine
    with count_statements(engine) as statements:
        async with client.get("/restaurant/1") as response:
            assert response.headers["X-Cache"] == "HIT"
    assert len(statements) == 1 and "data_version" in statements[0]
    # Safe, not stale: another process's write shows on the very next request.
    async with sessionmaker.begin() as session:
        await update_restaurant(session, restaurant_id=1, changes={"name": "Elsewhere"})
    assert (await get_json(client, "/restaurant/1"))["name"] == "Elsewhere"


async def test_a_lost_listener_reconnects_and_catches_up(
    client: AppClient, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; SQLite polls")
    versions = client.app[VERSIONS]
    assert versions.live
    async with engine.connect() as conn:
        cut = await conn.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = :name AND datname = current_database()"
            ),
            {"name": LISTENER},
        )
    assert cut == 1

    async def down() -> bool:
        return not versions.live

    await eventually(down, within=3.0)
    # Written while nobody listened: learned by the full read after reconnecting.
    async with sessionmaker.begin() as session:
        await update_restaurant(session, restaurant_id=1, changes={"name": "Meanwhile"})

    async def back() -> bool:
        return versions.live

    await eventually(back, within=5.0)
    assert (await get_json(client, "/restaurant/1"))["name"] == "Meanwhile"
    assert versions.current(RESTAURANTS) is not None


def test_versions_only_grow() -> None:
    versions = Versions()
    versions.live = True
    versions.on_notify("menu:7=12")
    versions.on_notify("menu:7=9")  # late or repeated: ignored
    versions.on_notify("garbage")
    versions.on_notify("menu:8=x")
    assert versions.current(menu(7)) == 12
    assert versions.current(menu(8)) == 0
    versions.live = False
    assert versions.current(menu(7)) is None
