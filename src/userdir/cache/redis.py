"""The Redis cache: shared by every process and host, and never a dependency.

Every call gives up after `timeout` seconds and is never retried on the request path; a failure
opens a circuit breaker, so requests skip Redis (served from the database) until a background
probe finds it again. A write Redis refuses (out of memory under `noeviction`) is dropped and
logged once until writes succeed again; reads go on. Keys always carry a TTL.
"""

from __future__ import annotations

import asyncio
import logging

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, ResponseError

from userdir.cache.breaker import Breaker
from userdir.cache.entry import Entry

log = logging.getLogger(__name__)

# Everything a dead, hung or refusing server can raise through redis-py.
FAILURES = (RedisError, OSError, TimeoutError)


def create_client(url: str, timeout: float) -> aioredis.Redis:
    # No retries: on the request path one short attempt, then the breaker; redis-py's default
    # would retry with backoff while a request waits.
    return aioredis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
    )


async def reconnect(client: aioredis.Redis, timeout: float) -> None:
    """A breaker's probe. Idle pooled connections may be dead (a restarted server's resets
    show only when a connection is next used, each a failure of its own), so they are dropped
    first: when the breaker closes, every connection is new."""
    await client.connection_pool.disconnect(inuse_connections=False)
    async with asyncio.timeout(timeout):
        await client.ping()


class RedisCache:
    def __init__(self, client: aioredis.Redis, *, prefix: str, timeout: float) -> None:
        self.client = client
        self.prefix = prefix
        self.timeout = timeout
        self.breaker = Breaker("cache (redis)", self._reconnect)
        self._refusing_writes = False

    @property
    def available(self) -> bool:
        return self.breaker.closed

    @property
    def state(self) -> str:
        return "ok" if self.breaker.closed else "degraded"

    def _key(self, key: str) -> str:
        return f"{self.prefix}:c:{key}"

    async def ping(self) -> None:
        async with asyncio.timeout(self.timeout):
            await self.client.ping()

    async def _reconnect(self) -> None:
        await reconnect(self.client, self.timeout)

    async def get(self, key: str) -> Entry | None:
        if not self.breaker.allow():
            return None
        try:
            async with asyncio.timeout(self.timeout):
                raw = await self.client.get(self._key(key))
        except FAILURES as exc:
            self.breaker.failed(exc)
            return None
        if raw is None:
            return None
        if isinstance(raw, str):  # a client made with decode_responses=True
            raw = raw.encode()
        try:
            return Entry.from_bytes(raw)
        except ValueError:  # not written by this version of userdir: a miss
            return None

    async def set(self, key: str, entry: Entry, ttl: float) -> None:
        if not self.breaker.allow():
            return
        try:
            async with asyncio.timeout(self.timeout):
                await self.client.set(self._key(key), entry.to_bytes(), px=max(1, int(ttl * 1000)))
        except ResponseError as exc:
            if not self._refusing_writes:
                self._refusing_writes = True
                log.warning("cache (redis) refuses writes (%s): serving without storing", exc)
            return
        except FAILURES as exc:
            self.breaker.failed(exc)
            return
        if self._refusing_writes:
            self._refusing_writes = False
            log.warning("cache (redis) accepts writes again")

    async def close(self) -> None:
        await self.breaker.close()
        await self.client.aclose()
