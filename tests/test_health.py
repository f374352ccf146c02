from __future__ import annotations

from aiohttp.test_utils import TestClient

from tests.helpers import get_json
from userdir import __version__


async def test_service_health(client: TestClient) -> None:
    data = await get_json(client, "/restaurant/")
    assert data == {"status": "ok", "service": "userdir", "version": __version__}


async def test_healthz_checks_the_database(client: TestClient) -> None:
    assert await get_json(client, "/healthz") == {"status": "ok", "database": "ok"}


async def test_healthz_reports_a_lost_database(client: TestClient) -> None:
    from userdir.keys import ENGINE

    engine = client.server.app[ENGINE]
    await engine.dispose()
    # A pool that cannot connect any more: point it at a closed port.
    engine.sync_engine.pool._creator = _refuse  # type: ignore[attr-defined]
    problem = await get_json(client, "/healthz", expected_status=503)
    assert problem["detail"].startswith("Database unreachable")


def _refuse() -> None:
    raise ConnectionRefusedError("connection refused")
