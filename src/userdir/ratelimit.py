"""A per-client request rate limit, off by default (RATE_LIMIT, e.g. "600/minute").

Counted in Redis when CACHE_URL is redis:// (one limit shared by every process and host), else
per process. Responses carry GitHub's headers (X-RateLimit-Limit, -Remaining, -Used, -Reset,
epoch seconds); over the limit a request gets 429 with Retry-After. Health, readiness and metrics
are never limited. A limiter that cannot reach Redis lets requests through (and a breaker skips
it until it answers again): losing the limit for a while is better than refusing everyone.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator

from aiohttp import web
from limits import RateLimitItem, parse
from limits.aio.storage import Storage as AsyncStorage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.storage import storage_from_string
from redis.asyncio import Redis

from userdir.cache.breaker import Breaker
from userdir.cache.redis import FAILURES, create_client, reconnect
from userdir.clients import client_address
from userdir.config import Settings
from userdir.errors import Handler, TooManyRequests
from userdir.keys import RATE_LIMIT, SETTINGS

EXEMPT = frozenset({"/livez", "/readyz", "/healthz", "/metrics"})
RATE_HEADERS = web.RequestKey("rate_headers", dict)


class RateLimit:
    def __init__(self, settings: Settings) -> None:
        self.item: RateLimitItem = parse(settings.rate_limit)
        self.timeout = settings.cache_timeout
        self.client: Redis | None = None
        if settings.cache_url == "memory://":
            storage = storage_from_string("async+memory://")
        else:
            # The cache's client settings: short timeouts, no retries on the request path.
            self.client = create_client(settings.cache_url, self.timeout)
            storage = storage_from_string(
                f"async+{settings.cache_url}",
                implementation="redispy",
                key_prefix=f"{settings.cache_prefix}:rate",
                # Documented by limits, though its options are typed as scalars.
                connection_pool=self.client.connection_pool,  # type: ignore[arg-type]
            )
        assert isinstance(storage, AsyncStorage)
        self.storage = storage
        self.limiter = FixedWindowRateLimiter(storage)
        self.breaker = Breaker("rate limit (redis)", self._probe)

    async def close(self) -> None:
        await self.breaker.close()
        if self.client is not None:
            await self.client.aclose()

    async def _probe(self) -> None:
        # Only a Redis storage fails; the in-process one never opens the breaker.
        if self.client is not None:
            await reconnect(self.client, self.timeout)

    async def consume(self, client: str) -> tuple[bool, dict[str, str]] | None:
        """Count one request of `client`: (allowed, headers), or None when it cannot count."""
        if not self.breaker.allow():
            return None
        try:
            async with asyncio.timeout(2 * self.timeout):
                allowed = await self.limiter.hit(self.item, client)
                reset_at, remaining = await self.limiter.get_window_stats(self.item, client)
        except FAILURES as exc:
            self.breaker.failed(exc)
            return None
        limit = self.item.amount
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Used": str(limit - remaining),
            "X-RateLimit-Reset": str(math.ceil(reset_at)),
        }
        if not allowed:
            headers["Retry-After"] = str(max(1, math.ceil(reset_at - time.time())))
        return allowed, headers


@web.middleware
async def rate_limit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in EXEMPT:
        return await handler(request)
    counted = await request.app[RATE_LIMIT].consume(client_address(request))
    if counted is None:
        return await handler(request)
    allowed, headers = counted
    if not allowed:
        raise TooManyRequests(
            f"Too many requests: at most {request.app[RATE_LIMIT].item} per client; "
            f"try again in {headers['Retry-After']} s.",
            headers=headers,
        )
    request[RATE_HEADERS] = headers
    return await handler(request)


async def add_rate_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: streamed responses carry the headers too."""
    if (headers := request.get(RATE_HEADERS)) is not None:
        response.headers.update(headers)


async def rate_limit_ctx(app: web.Application) -> AsyncIterator[None]:
    limit = RateLimit(app[SETTINGS])
    app[RATE_LIMIT] = limit
    try:
        yield
    finally:
        await limit.close()


def setup_rate_limit(app: web.Application) -> None:
    """Installed only when RATE_LIMIT is set: no cost at all otherwise."""
    if not app[SETTINGS].rate_limit:
        return
    app.middlewares.append(rate_limit_middleware)
    app.on_response_prepare.append(add_rate_headers)
    app.cleanup_ctx.append(rate_limit_ctx)
