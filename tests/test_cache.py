from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from userdir.cache import Cache, MemoryCache, RedisCache
from userdir.queries.users import upsert_users


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "redis"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Cache]:
    if request.param == "memory":
        yield MemoryCache(max_entries=3)
        return
    url = request.getfixturevalue("redis_url")
    prefix = f"userdir-test-{uuid.uuid4().hex}"
    cache = RedisCache(aioredis.from_url(url), prefix)
    try:
        yield cache
    finally:
        keys = [k async for k in cache.client.scan_iter(f"{prefix}:*")]
        if keys:
            await cache.client.delete(*keys)
        await cache.close()


async def test_backend_stores_and_returns_bytes(backend: Cache) -> None:
    assert await backend.get("k") is None
    await backend.set("k", b"value", ttl=60)
    assert await backend.get("k") == b"value"
    await backend.set("k", b"other", ttl=60)
    assert await backend.get("k") == b"other"


async def test_memory_entries_expire_on_the_injected_clock() -> None:
    clock = FakeClock()
    cache = MemoryCache(max_entries=10, clock=clock)
    await cache.set("k", b"v", ttl=20)
    clock.now += 19.9
    assert await cache.get("k") == b"v"
    clock.now += 0.2
    assert await cache.get("k") is None
    assert len(cache) == 0


async def test_memory_is_bounded_and_evicts_least_recently_used() -> None:
    cache = MemoryCache(max_entries=2)
    await cache.set("a", b"1", ttl=60)
    await cache.set("b", b"2", ttl=60)
    assert await cache.get("a") == b"1"  # a is now the most recently used
    await cache.set("c", b"3", ttl=60)
    assert len(cache) == 2
    assert await cache.get("b") is None
    assert await cache.get("a") == b"1" and await cache.get("c") == b"3"


@pytest.fixture(params=["memory", "redis"])
def cache_url(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory://"
    url: str = request.getfixturevalue("redis_url")
    return url


@pytest.mark.usefixtures("sample")
async def test_second_identical_query_is_a_hit(make_client, cache_url: str) -> None:  # type: ignore[no-untyped-def]
    client: TestClient = await make_client(
        cache_url=cache_url, cache_prefix=f"userdir-test-{uuid.uuid4().hex}"
    )
    async with client.get("/users?type=User&pagination=5") as first:
        assert first.headers["X-Cache"] == "MISS"
        body = await first.read()
    # The same normalized query: parameters reordered, defaults spelled out.
    async with client.get("/users?pagination=5&page_number=1&order_by=id&type=User") as second:
        assert second.headers["X-Cache"] == "HIT"
        assert second.headers["Cache-Control"] == "public, max-age=20, stale-while-revalidate=20"
        assert second.headers["X-Total-Count"] == first.headers["X-Total-Count"]
        assert await second.read() == body
    async with client.get("/users?type=User&pagination=6") as other:
        assert other.headers["X-Cache"] == "MISS"


@pytest.mark.usefixtures("sample")
async def test_a_write_is_visible_to_the_next_read(
    client: TestClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with client.get("/users/mojombo") as response:
        assert (await response.json())["type"] == "User"
    async with client.get("/users?username=mojombo") as response:
        assert (await response.json())[0]["type"] == "User"
    async with sessionmaker.begin() as session:
        await upsert_users(
            session,
            [
                {
                    "id": 1,
                    "username": "mojombo",
                    "type": "Organization",
                    "image_url": "https://example.test/1",
                    "profile_url": "https://example.test/p/1",
                }
            ],
        )
    async with client.get("/users?username=mojombo") as response:
        assert response.headers["X-Cache"] == "MISS"
        assert (await response.json())[0]["type"] == "Organization"


@pytest.mark.usefixtures("sample")
async def test_ttl_zero_disables_caching(make_client) -> None:  # type: ignore[no-untyped-def]
    client: TestClient = await make_client(cache_ttl=0)
    for _ in range(2):
        async with client.get("/users") as response:
            assert response.headers["X-Cache"] == "MISS"
            assert response.headers["Cache-Control"] == "no-cache"
