"""Typed application keys: a leaf module, so every other module can import it without cycles."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from userdir.cache import Cache
    from userdir.config import Settings
    from userdir.counts import Counts
    from userdir.db import Database
    from userdir.deadlines import Deadlines
    from userdir.invalidation import Versions
    from userdir.menu.sizes import NestedSizes
    from userdir.metrics import Metrics
    from userdir.ratelimit import RateLimit

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
DATABASE: web.AppKey[Database] = web.AppKey("database")
VERSIONS: web.AppKey[Versions] = web.AppKey("versions")
CACHE: web.AppKey[Cache] = web.AppKey("cache")
DEADLINES: web.AppKey[Deadlines] = web.AppKey("deadlines")
RATE_LIMIT: web.AppKey[RateLimit] = web.AppKey("rate_limit")
COUNTS: web.AppKey[Counts] = web.AppKey("counts")
OPENAPI: web.AppKey[bytes] = web.AppKey("openapi")
NESTED_SIZES: web.AppKey[NestedSizes] = web.AppKey("nested_sizes")
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")
