"""Response caching: an interface, an in-process LRU and a Redis backend.

Keys carry the data version of what they show (see models/version.py): a write bumps it in
its own transaction, so a response cached before a write is never served after it, whichever
process wrote; the stale entries simply age out.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
import redis.asyncio as aioredis
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from userdir.keys import CACHE, SESSIONMAKER, SETTINGS
from userdir.queries.versions import get_version

log = logging.getLogger(__name__)

Clock = Callable[[], float]


class Cache(Protocol):
    async def get(self, key: str) -> bytes | None: ...
    async def set(self, key: str, value: bytes, ttl: float) -> None: ...
    async def close(self) -> None: ...


class MemoryCache:
    """A bounded LRU with per-entry expiry; the clock is injectable so tests never sleep."""

    def __init__(self, max_entries: int, clock: Clock = time.monotonic) -> None:
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at, value = entry
        if expires_at <= self.clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        self._entries[key] = (self.clock() + ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    async def close(self) -> None:
        self._entries.clear()


class RedisCache:
    """Shared between processes; Redis's own eviction policy bounds its size."""

    def __init__(self, client: aioredis.Redis, prefix: str = "userdir") -> None:
        self.client = client
        self.prefix = prefix

    async def get(self, key: str) -> bytes | None:
        value = await self.client.get(f"{self.prefix}:c:{key}")
        return value.encode() if isinstance(value, str) else value

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        await self.client.set(f"{self.prefix}:c:{key}", value, px=max(1, int(ttl * 1000)))

    async def close(self) -> None:
        await self.client.aclose()


def create_cache(url: str, *, max_entries: int, prefix: str = "userdir") -> Cache:
    if url == "memory://":
        return MemoryCache(max_entries)
    return RedisCache(aioredis.from_url(url), prefix)


async def cache_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    cache = create_cache(
        settings.cache_url, max_entries=settings.cache_max_entries, prefix=settings.cache_prefix
    )
    try:
        if isinstance(cache, RedisCache):
            await cache.client.ping()  # fail at start-up, not on the first request
            log.info("cache: redis %s", settings.cache_url.split("@")[-1])
        app[CACHE] = cache
        yield
    finally:
        await cache.close()


@dataclass(frozen=True, slots=True)
class CachedResponse:
    """What a GET handler produces: everything needed to answer again from the cache."""

    body: bytes
    content_type: str
    headers: Mapping[str, str] = field(default_factory=dict)
    status: int = 200

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "b": self.body.decode(),
                "t": self.content_type,
                "h": dict(self.headers),
                "s": self.status,
            }
        )

    @classmethod
    def decode(cls, raw: bytes) -> CachedResponse:
        data: dict[str, Any] = orjson.loads(raw)
        return cls(data["b"].encode(), data["t"], data["h"], data["s"])


def cache_key(namespace: str, params: Mapping[str, Any]) -> str:
    """The normalized query: parameters sorted, defaults already filled in by the schema."""
    return f"{namespace}:{orjson.dumps(params, option=orjson.OPT_SORT_KEYS).decode()}"


def cache_control(ttl: int) -> str:
    # Revalidating with If-None-Match is cheap (one version read), so a stale copy may be
    # shown while that happens.
    if ttl <= 0:
        return "no-cache"
    return f"public, max-age={ttl}, stale-while-revalidate={ttl}"


def etag_for(key: str) -> str:
    """A strong validator: the data version and the normalized query fix the body."""
    return f'"{hashlib.sha256(key.encode()).hexdigest()[:32]}"'


def validator_headers(etag: str, ttl: int) -> dict[str, str]:
    return {"ETag": etag, "Cache-Control": cache_control(ttl), "Vary": "Accept"}


def matches(request: web.Request, etag: str) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110 13.1.2)."""
    given = request.if_none_match or ()
    return any(tag.value in ("*", etag.strip('"')) for tag in given)


def not_modified(request: web.Request, key: str) -> web.Response | None:
    """A 304 when the client already holds this representation; it costs no query."""
    etag = etag_for(key)
    if not matches(request, etag):
        return None
    headers = validator_headers(etag, request.app[SETTINGS].cache_ttl)
    return web.Response(status=304, headers=headers)


async def cached(
    request: web.Request,
    dataset: str,
    params: Mapping[str, Any],
    produce: Callable[[AsyncSession], Awaitable[CachedResponse]],
) -> web.Response:
    """Answer 304, or from the cache when possible, else from `produce(session)`, storing it.

    `dataset` names the data version (see queries/versions.py) the response depends on. The
    session that read the version is the one `produce` queries with: one connection checkout
    per request, not two.
    """
    cache = request.app[CACHE]
    ttl = request.app[SETTINGS].cache_ttl
    async with request.app[SESSIONMAKER]() as session:
        version = await get_version(session, dataset)
        key = f"{version}:{cache_key(dataset, params)}"
        if (unchanged := not_modified(request, key)) is not None:
            return unchanged
        raw = await cache.get(key) if ttl > 0 else None
        state = "HIT"
        if raw is None:
            state = "MISS"
            result = await produce(session)
            if ttl > 0 and result.status == 200:
                await cache.set(key, result.encode(), ttl)
        else:
            result = CachedResponse.decode(raw)
    response = web.Response(body=result.body, status=result.status, headers=result.headers)
    response.content_type = result.content_type
    if result.status == 200:
        response.headers.update(validator_headers(etag_for(key), ttl))
    else:
        response.headers["Cache-Control"] = "no-store"
        response.headers["Vary"] = "Accept"
    response.headers["X-Cache"] = state
    return response
