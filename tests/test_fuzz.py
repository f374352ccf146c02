"""Schemathesis against a real server: every documented operation, all checks, bounded.

Zero failures means no 5xx, and every status, header, media type and body matching
/openapi.json. Runs once on SQLite and once on PostgreSQL with the sample data loaded.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator

import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.conftest import API_TOKEN
from tests.live import serve_in_thread
from userdir.app import create_app
from userdir.config import Settings
from userdir.openapi.spec import build_spec

# A fixed seed and a fixed budget per operation keep every run the same and short.
FUZZ_CONFIG = {
    "seed": 20260406,
    "generation": {"max-examples": 100, "database": "none"},
    "checks": {"enabled": True},
    # Writes need a token; the ignored_auth check still tries each secured operation without it.
    "headers": {"Authorization": f"Bearer {API_TOKEN}"},
}


# Built without a server so that pytest can collect one test per operation; `live_url`
# checks that the server serves this very document.
DOCUMENT = build_spec(create_app(Settings()))


@pytest.fixture
def live_url(settings: Settings, sample: None) -> Iterator[str]:
    with serve_in_thread(create_app(settings)) as url:
        with urllib.request.urlopen(f"{url}/openapi.json", timeout=10) as response:
            assert orjson.loads(response.read()) == orjson.loads(orjson.dumps(DOCUMENT))
        yield url


schema = schemathesis.openapi.from_dict(DOCUMENT, config=schemathesis.Config.from_dict(FUZZ_CONFIG))


@schema.parametrize()
# One server and database per operation and backend serve all its examples: restarting them
# for each example would cost more than the requests.
@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
def test_every_operation_keeps_its_contract(case: schemathesis.Case, live_url: str) -> None:
    case.call_and_validate(base_url=live_url)
