from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import aiohttp
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.helpers import AppClient, MakeClient, eventually
from tests.processes import running_server, wait_until_serving
from userdir.cache import Cache, Entry, MemoryCache, RedisCache
from userdir.cache.redis import create_client
from userdir.keys import CACHE
from userdir.queries.users import upsert_users


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def entry(body: bytes, status: int = 200) -> Entry:
    return Entry(status, (("Content-Type", "application/json"), ("X-Total-Count", "3")), body)


@pytest.fixture(params=["memory", "redis"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Cache]:
    if request.param == "memory":
        yield MemoryCache(max_bytes=10_000)
        return
    url = request.getfixturevalue("redis_url")
    prefix = f"userdir-test-{uuid.uuid4().hex}"
    cache = RedisCache(create_client(url, 1.0), prefix=prefix, timeout=1.0)
    try:
        yield cache
    finally:
        keys = [k async for k in cache.client.scan_iter(f"{prefix}:*")]
        if keys:
            await cache.client.delete(*keys)
        await cache.close()


async def test_backend_stores_and_returns_entries(backend: Cache) -> None:
    assert await backend.get("k") is None
    await backend.set("k", entry(b"[1]"), ttl=60)
    assert await backend.get("k") == entry(b"[1]")
    await backend.set("k", entry(b"[2]", status=404), ttl=60)
    assert await backend.get("k") == entry(b"[2]", status=404)


def test_entry_bytes_round_trip_keeps_body_and_coded_body_apart() -> None:
    body = b'{"a": "line\nbreak"}\n\x00\xff'
    coded = Entry(200, (("ETag", '"x"'), ("Link", '<a\nb>; rel="next"')), body, b"\x1f\x8b")
    assert Entry.from_bytes(coded.to_bytes()) == coded
    plain = Entry(200, (), body)
    assert Entry.from_bytes(plain.to_bytes()) == plain
    with pytest.raises(ValueError):
        Entry.from_bytes(plain.to_bytes()[:-1])  # cut short: never served as a shorter body


async def test_memory_entries_expire_on_the_injected_clock() -> None:
    clock = FakeClock()
    cache = MemoryCache(max_bytes=10_000, clock=clock)
    await cache.set("k", entry(b"v"), ttl=20)
    clock.now += 19.9
    assert await cache.get("k") == entry(b"v")
    clock.now += 0.2
    assert await cache.get("k") is None
    assert len(cache) == 0 and cache.held_bytes == 0


async def test_memory_is_bounded_by_bytes_and_evicts_least_recently_used() -> None:
    one = entry(b"x" * 1000)
    cache = MemoryCache(max_bytes=2 * one.size)
    await cache.set("a", one, ttl=60)
    await cache.set("b", one, ttl=60)
    assert await cache.get("a") == one  # a is now the most recently used
    await cache.set("c", one, ttl=60)
    assert len(cache) == 2 and cache.held_bytes == 2 * one.size
    assert await cache.get("b") is None
    assert await cache.get("a") == one and await cache.get("c") == one
    # Replacing an entry frees what the old one held.
    await cache.set("a", entry(b"small"), ttl=60)
    assert cache.held_bytes == one.size + entry(b"small").size
    # An entry larger than the whole bound is not kept at all.
    await cache.set("huge", entry(b"x" * 5000), ttl=60)
    assert await cache.get("huge") is None
    assert cache.held_bytes <= cache.max_bytes


async def test_redis_keys_always_carry_a_ttl(redis_url: str) -> None:
    prefix = f"userdir-test-{uuid.uuid4().hex}"
    cache = RedisCache(create_client(redis_url, 1.0), prefix=prefix, timeout=1.0)
    try:
        await cache.set("k", entry(b"[]"), ttl=0.2)
        ttl = await cache.client.pttl(f"{prefix}:c:k")
        assert 0 < ttl <= 200
        await asyncio.sleep(0.3)
        assert await cache.get("k") is None  # expired by Redis itself
    finally:
        await cache.close()


@pytest.fixture(params=["memory", "redis"])
def cache_url(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory://"
    url: str = request.getfixturevalue("redis_url")
    return url


@pytest.mark.usefixtures("sample")
async def test_second_identical_query_is_a_hit(make_client: MakeClient, cache_url: str) -> None:
    client: AppClient = await make_client(
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
async def test_a_write_elsewhere_is_visible_within_the_bound(
    client: AppClient, sessionmaker: async_sessionmaker[AsyncSession]
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

    async def visible() -> bool:
        async with client.get("/users?username=mojombo") as response:
            return bool((await response.json())[0]["type"] == "Organization")

    # Another process's write (this one never saw it): announced or polled, not per request.
    assert await eventually(visible, within=1.0) < 1.0


@pytest.mark.usefixtures("sample")
async def test_ttl_zero_disables_caching(make_client: MakeClient) -> None:
    client: AppClient = await make_client(cache_ttl=0)
    for _ in range(2):
        async with client.get("/users") as response:
            assert response.headers["X-Cache"] == "MISS"
            assert response.headers["Cache-Control"] == "no-cache"


@pytest.fixture
async def shared_prefix(redis_url: str) -> AsyncIterator[str]:
    """A Redis key prefix of this test's own, its keys deleted afterwards."""
    prefix = f"userdir-test-{uuid.uuid4().hex}"
    yield prefix
    client = create_client(redis_url, 1.0)
    try:
        keys = [k async for k in client.scan_iter(f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def fetch(session: aiohttp.ClientSession, url: str) -> tuple[str, bytes]:
    async with session.get(url) as response:
        assert response.status == 200
        return response.headers["X-Cache"], await response.read()


@pytest.mark.slow
@pytest.mark.usefixtures("sample")
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_redis_is_one_cache_for_every_process(
    make_client: MakeClient, database_url: str, redis_url: str, shared_prefix: str
) -> None:
    shared = {"CACHE_URL": redis_url, "CACHE_PREFIX": shared_prefix, "CACHE_TTL": "60"}
    async with running_server(database_url, **shared) as server:
        await wait_until_serving(server)
        here: AppClient = await make_client(
            cache_url=redis_url, cache_prefix=shared_prefix, cache_ttl=60
        )
        async with aiohttp.ClientSession() as session:
            # Cached by the server process, then a hit in this one, byte for byte.
            miss, body = await fetch(session, f"{server.base}/users?type=User&pagination=7")
            async with here.get("/users?type=User&pagination=7") as response:
                assert (response.headers["X-Cache"], await response.read()) == ("HIT", body)
            assert miss == "MISS"
            # And the other way round.
            async with here.get("/users?type=Organization") as response:
                assert response.headers["X-Cache"] == "MISS"
                body = await response.read()
            assert await fetch(session, f"{server.base}/users?type=Organization") == ("HIT", body)


@pytest.mark.usefixtures("sample")
async def test_a_redis_entry_expires_after_cache_ttl(
    make_client: MakeClient, redis_url: str, shared_prefix: str
) -> None:
    client: AppClient = await make_client(
        cache_url=redis_url, cache_prefix=shared_prefix, cache_ttl=1
    )
    async with client.get("/users?type=User") as response:
        assert response.headers["X-Cache"] == "MISS"
    cache = client.app[CACHE]
    assert isinstance(cache, RedisCache)
    (key,) = [k async for k in cache.client.scan_iter(f"{shared_prefix}:c:*")]
    assert 0 < await cache.client.pttl(key) <= 1000  # CACHE_TTL, in ms
    async with client.get("/users?type=User") as response:
        assert response.headers["X-Cache"] == "HIT"
    await asyncio.sleep(1.1)
    async with client.get("/users?type=User") as response:
        assert response.headers["X-Cache"] == "MISS"  # gone from Redis: built again
