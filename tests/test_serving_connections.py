"""What every serving connection to PostgreSQL runs with, and how reads and writes use it."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import text

from tests.helpers import AppClient, MakeClient, count_statements, get_json, request_json
from tests.menu_api import AUTH
from userdir.config import Settings
from userdir.db.engines import serving_options
from userdir.keys import DATABASE


async def shown(client: AppClient, setting: str) -> str:
    primary = client.app[DATABASE].primary
    async with primary.engine.connect() as connection:
        return str((await connection.execute(text(f"SHOW {setting}"))).scalar_one())


async def test_connections_run_without_jit_and_bound_every_statement(
    make_client: MakeClient,
) -> None:
    client: AppClient = await make_client(db_statement_timeout=2.5)
    if client.app[DATABASE].backend != "postgresql":
        pytest.skip("PostgreSQL's settings")
    assert await shown(client, "jit") == "off"
    assert await shown(client, "statement_timeout") == "2500ms"


@pytest.mark.usefixtures("sample")
async def test_a_write_lifts_the_reads_bound_and_a_read_sends_nothing_else(
    make_client: MakeClient,
) -> None:
    client: AppClient = await make_client(db_statement_timeout=2.5)
    database = client.app[DATABASE]
    if database.backend != "postgresql":
        pytest.skip("PostgreSQL's settings")
    with count_statements(database.primary.engine) as statements:
        await request_json(client, "PATCH", "/restaurant/1", json={"name": "Six"}, headers=AUTH)
    assert "set_config" in statements[0], statements  # statement_timeout 0, this transaction
    with count_statements(database.primary.engine) as statements:
        await get_json(client, "/users?pagination=3")
    # The page is the first statement: no version read, no SET LOCAL before it (a count, taken
    # once per version, may follow it).
    assert statements[0].lstrip().upper().startswith("SELECT USERS.ID"), statements
    assert not any("set_config" in s or "data_version" in s for s in statements), statements


def test_behind_pgbouncer_no_start_up_setting_is_sent(settings: Settings) -> None:
    # PgBouncer refuses start-up parameters it does not track.
    options = serving_options(replace(settings, db_pgbouncer=True))
    if "connect_args" not in options:
        pytest.skip("SQLite has no connection options")
    connect_args = options["connect_args"]
    assert isinstance(connect_args, dict)
    assert "server_settings" not in connect_args
