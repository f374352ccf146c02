"""Response cache backends: in process (memory://) or shared (redis://), one protocol.

What is cached and under which key is decided by userdir.cached; here only bytes are kept.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Protocol

from aiohttp import web

from userdir.cache.entry import Entry
from userdir.cache.memory import MemoryCache
from userdir.cache.redis import FAILURES, RedisCache, create_client
from userdir.config import Settings
from userdir.keys import CACHE, SETTINGS

log = logging.getLogger(__name__)

__all__ = ["Cache", "Entry", "MemoryCache", "RedisCache", "cache_ctx", "create_cache"]


class Cache(Protocol):
    @property
    def available(self) -> bool:
        """False while the backend is skipped (responses then say X-Cache: BYPASS)."""

    @property
    def state(self) -> str:
        """ "ok", or "degraded" while skipped: what readiness reports."""

    async def get(self, key: str) -> Entry | None: ...
    async def set(self, key: str, entry: Entry, ttl: float) -> None: ...
    async def close(self) -> None: ...


def create_cache(settings: Settings) -> Cache:
    if settings.cache_url == "memory://":
        return MemoryCache(settings.cache_max_bytes)
    client = create_client(settings.cache_url, settings.cache_timeout)
    return RedisCache(client, prefix=settings.cache_prefix, timeout=settings.cache_timeout)


async def cache_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    cache = create_cache(settings)
    if isinstance(cache, RedisCache):
        log.info("cache: redis %s", settings.cache_url.split("@")[-1])
        try:
            await cache.ping()
        except FAILURES as exc:
            # Start anyway: the cache only accelerates; the breaker finds it when it appears.
            cache.breaker.failed(exc)
    app[CACHE] = cache
    try:
        yield
    finally:
        await cache.close()
