from __future__ import annotations

from typing import NoReturn

from tests.helpers import AppClient, count_statements, get_json
from userdir import __version__
from userdir.keys import DATABASE
from userdir.schemas.health import READY_OUT


async def test_service_health(client: AppClient) -> None:
    data = await get_json(client, "/restaurant/")
    assert data == {"status": "ok", "service": "userdir", "version": __version__}


async def test_livez_answers_without_database_or_cache(client: AppClient) -> None:
    database = client.app[DATABASE]
    with count_statements(database.primary.engine) as statements:
        assert await get_json(client, "/livez") == {"status": "ok"}
    assert statements == []


async def test_readiness_reports_each_part(client: AppClient) -> None:
    ready = await get_json(client, "/readyz", schema=READY_OUT)
    assert ready == {
        "status": "ok",
        "database": "ok",
        "cache": "ok",
        "versions": "live",
        "replicas": {},
    }
    # /healthz keeps its meaning: ready, with a database round trip.
    assert await get_json(client, "/healthz") == ready


async def test_readiness_reports_a_lost_database(client: AppClient) -> None:
    engine = client.app[DATABASE].primary.engine
    await engine.dispose()
    # A pool that cannot connect any more: point it at a closed port.
    engine.sync_engine.pool._creator = _refuse
    problem = await get_json(client, "/readyz", expected_status=503)
    assert problem["detail"].startswith("Not ready: the database is unavailable")
    # Liveness is unaffected: the process still serves.
    assert await get_json(client, "/livez") == {"status": "ok"}


def _refuse() -> NoReturn:
    raise ConnectionRefusedError("connection refused")
