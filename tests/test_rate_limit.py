"""RATE_LIMIT: per client, shared through Redis, GitHub's headers, 429, never on health."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.helpers import AppClient, MakeClient, get_json
from userdir.config import ConfigError, load_settings


@pytest.fixture(params=["memory", "redis"])
def cache_url(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory://"
    url: str = request.getfixturevalue("redis_url")
    return url


@pytest.mark.usefixtures("sample")
async def test_over_the_limit_is_429_with_github_headers(
    make_client: MakeClient, cache_url: str
) -> None:
    client: AppClient = await make_client(
        rate_limit="3/minute", cache_url=cache_url, cache_prefix=f"test-{uuid.uuid4().hex}"
    )
    for used in (1, 2, 3):
        async with client.get("/users?pagination=1") as response:
            assert response.status == 200
            assert response.headers["X-RateLimit-Limit"] == "3"
            assert response.headers["X-RateLimit-Used"] == str(used)
            assert response.headers["X-RateLimit-Remaining"] == str(3 - used)
            reset = int(response.headers["X-RateLimit-Reset"])
            assert time.time() < reset <= time.time() + 61
    problem = await get_json(client, "/users", expected_status=429)
    assert problem["detail"].startswith("Too many requests: at most 3 per 1 minute")
    async with client.get("/restaurant/1/item") as response:
        assert response.status == 429
        assert 1 <= int(response.headers["Retry-After"]) <= 60
        assert response.headers["X-RateLimit-Remaining"] == "0"
    # Probes are never limited.
    for path in ("/livez", "/readyz"):
        async with client.get(path) as response:
            assert response.status == 200
            assert "X-RateLimit-Limit" not in response.headers


@pytest.mark.usefixtures("sample")
async def test_streamed_responses_carry_the_headers(make_client: MakeClient) -> None:
    client: AppClient = await make_client(rate_limit="10/minute")
    async with client.get("/users?format=csv") as response:
        assert response.status == 200
        assert response.headers["X-RateLimit-Used"] == "1"
        # Read to the end: the export holds its read transaction until the last row is sent.
        assert (await response.text()).startswith("id,username,")


@pytest.mark.usefixtures("sample")
async def test_redis_shares_one_limit_between_processes(
    make_client: MakeClient, redis_url: str
) -> None:
    shared = {"rate_limit": "4/minute", "cache_url": redis_url, "cache_prefix": uuid.uuid4().hex}
    first, second = await make_client(**shared), await make_client(**shared)
    statuses = []
    for client in (first, second, first, second, first, second):
        async with client.get("/livez") as probe:
            assert probe.status == 200
        async with client.get("/restaurant/1") as response:
            statuses.append(response.status)
    assert statuses == [200, 200, 200, 200, 429, 429]


def test_rate_limit_setting_is_checked() -> None:
    assert load_settings({"RATE_LIMIT": "600/minute"}).rate_limit == "600/minute"
    assert load_settings({}).rate_limit == ""
    with pytest.raises(ConfigError, match="RATE_LIMIT='lots': allowed N/second"):
        load_settings({"RATE_LIMIT": "lots"})


@pytest.mark.usefixtures("sample")
async def test_off_by_default(client: AppClient) -> None:
    async with client.get("/users") as response:
        assert response.status == 200
        assert "X-RateLimit-Limit" not in response.headers
