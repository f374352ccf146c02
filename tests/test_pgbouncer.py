"""The service through Debian's PgBouncer in transaction pooling mode (DB_PGBOUNCER=true):
migrations, the sample data and seeding go through it, then the users and menu reads and
writes, many at once over two server connections, where a prepared statement that outlived
its transaction would collide with another client's."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpClient

from tests.conftest import API_TOKEN
from tests.helpers import AppClient, get_json
from tests.menu_api import edges, link, new_items, new_restaurant, write
from tests.servers.load import run_load
from tests.servers.pgbouncer import PgBouncer
from tests.servers.postgres import PostgresCluster, fetchval
from userdir import cli
from userdir.app import create_app
from userdir.config import Settings, load_settings
from userdir.seed_cli import run_seed

pytestmark = pytest.mark.slow

SERVER_CONNECTIONS = 2  # PgBouncer's pool: every client transaction shares these
GITHUB_USERS = Path(cli.__file__).parent / "data" / "github-users.json"


def _settings(bouncer: PgBouncer, cluster: PostgresCluster, database: str) -> Settings:
    return load_settings(
        {
            "DATABASE_URL": bouncer.url(database),
            "DB_PGBOUNCER": "true",
            # LISTEN needs a session of its own: straight to PostgreSQL.
            "DATABASE_LISTEN_URL": cluster.url(database),
            "USERDIR_API_TOKENS": API_TOKEN,
            "DB_POOL_SIZE": "16",  # many more client connections than PgBouncer's two
        }
    )


@pytest.fixture
def bouncer_settings(
    private_pg: PostgresCluster,
    private_pg_database: str,
    pgbouncer_factory: Callable[..., PgBouncer],
) -> Settings:
    bouncer = pgbouncer_factory(pool_size=SERVER_CONNECTIONS)
    return _settings(bouncer, private_pg, private_pg_database)


async def _backends(cluster: PostgresCluster, database: str) -> int:
    sql = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()"
        " AND application_name <> 'userdir-versions'"
    )
    return int(await fetchval(cluster.dsn(), sql, database))


async def test_migrations_sample_data_and_seeding_go_through_pgbouncer(
    bouncer_settings: Settings, private_pg: PostgresCluster, private_pg_database: str
) -> None:
    await cli.reset_database(bouncer_settings)
    await cli.upgrade_database(bouncer_settings)  # at head already: a no-op that must not fail
    report = await run_seed(
        bouncer_settings, total=0, since=None, from_file=GITHUB_USERS, wait=False, quiet=True
    )
    assert report.stored > 0
    dsn = private_pg.dsn(private_pg_database)
    assert await fetchval(dsn, "SELECT count(*) FROM users") >= report.stored
    assert await fetchval(dsn, "SELECT count(*) FROM restaurant") > 0


async def test_users_and_menus_read_and_write_through_pgbouncer(
    bouncer_settings: Settings,
    private_pg: PostgresCluster,
    private_pg_database: str,
    aiohttp_client: AiohttpClient,
) -> None:
    await cli.reset_database(bouncer_settings)
    client: AppClient = await aiohttp_client(create_app(bouncer_settings))

    # Users: the list (JSON, HTML, CSV), one user, a filtered count, a cursor's next page.
    page = await get_json(client, "/users?type=User&order_by=username&pagination=5")
    assert len(page) == 5
    mojombo = await get_json(client, "/users/mojombo")
    assert mojombo["username"] == "mojombo"
    for path in ("/users?format=html", "/users?format=csv"):
        response = await client.get(path)
        assert response.status == 200, await response.text()

    # Menus: create, add items, link, rename, replace whole, delete.
    rid = await new_restaurant(client, "Bouncer Diner")
    burger, cheese = await new_items(client, rid, "Burger", "Cheese")
    await link(client, rid, burger, cheese)
    assert await edges(client, rid) == {(burger, cheese)}
    await write(client, "PATCH", f"/restaurant/{rid}/item/{cheese}", {"name": "Cheddar"})
    item = await get_json(client, f"/restaurant/{rid}/item/{burger}")
    assert item["modifiers"][0]["name"] == "Cheddar"
    document = {
        "items": [{"key": "f", "name": "Fries"}, {"key": "s", "name": "Salt"}],
        "links": [{"item": "f", "modifier": "s"}],
    }
    await write(client, "PUT", f"/restaurant/{rid}/menu", document)
    menu = await get_json(client, f"/restaurant/{rid}/item")
    names = {i["name"]: [m["name"] for m in i["modifiers"]] for i in menu}
    assert names == {"Fries": ["Salt"], "Salt": []}
    await write(client, "DELETE", f"/restaurant/{rid}", expected_status=204)
    assert (await client.get(f"/restaurant/{rid}")).status == 404

    # Many at once: sixteen clients, writes among the reads, over two server connections.
    base = str(client.make_url(""))
    reads = [
        f"{base}{p}" for p in ("/users?type=Organization", "/users/defunkt", "/restaurant/1/item")
    ]
    writes = asyncio.gather(
        *(write(client, "PATCH", "/restaurant/1", {"name": f"Five Guys {n}"}) for n in range(20))
    )
    load = run_load(reads, clients=16, requests=400, timeout=10.0)
    result, _ = await asyncio.gather(load, writes)
    assert result.by_outcome() == {200: 400}
    assert await _backends(private_pg, private_pg_database) <= SERVER_CONNECTIONS
    final = await get_json(client, "/restaurant/1")
    assert final["name"].startswith("Five Guys ")
