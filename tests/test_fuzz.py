"""Schemathesis against a real server: every documented operation, all checks, bounded.

Zero failures means no 5xx, and every status, header, media type and body matching
/openapi.json. Runs once on SQLite and once on PostgreSQL with the sample data loaded.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.live import serve_in_thread
from userdir.app import create_app
from userdir.config import Settings
from userdir.openapi.spec import build_spec

# A fixed seed and a fixed budget per operation keep every run the same and short.
FUZZ_CONFIG = {
    "seed": 20260406,
    "generation": {"max-examples": 100, "database": "none"},
    "checks": {"enabled": True},
}


@pytest.fixture
def live_url(settings: Settings, sample: None) -> Iterator[str]:
    with serve_in_thread(create_app(settings)) as url:
        yield url


def documented_schema() -> schemathesis.BaseSchema:
    """The document built without a server, so pytest can collect one test per operation."""
    config = schemathesis.Config.from_dict(FUZZ_CONFIG)
    return schemathesis.openapi.from_dict(build_spec(create_app(Settings())), config=config)


schema = documented_schema()


@schema.parametrize()
# One server per backend serves every example: the operations only read, so sharing is safe.
@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
def test_every_operation_keeps_its_contract(case: schemathesis.Case, live_url: str) -> None:
    case.call_and_validate(base_url=live_url)
