"""The response cache as handlers use it: a look-aside they call, never a wrapper around them.

    key = await cached.key(request, USERS, query.normalized)
    if (hit := await cached.lookup(request, key)) is not None:
        return hit                       # a 304 or the stored bytes: no database work
    async with reader(request, key) as snapshot:
        ...                              # the queries
    return await cached.store(request, snapshot.key, representation)

No database connection is held while the cache is asked or written, and a cache that fails
only makes responses say `X-Cache: BYPASS`: they come from the database.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import web
from isal import igzip
from multidict import CIMultiDict

from userdir.cache import Entry
from userdir.conditional import accepts_gzip, gzip_etag, held, not_modified, validators
from userdir.datasets import CacheKey, Dataset
from userdir.keys import CACHE, DATABASE, SETTINGS, VERSIONS
from userdir.metrics import count_cache
from userdir.queries.versions import get_version

# Smaller bodies fit a packet or two: coding them costs more than it saves.
GZIP_MIN_BYTES = 1400
# ISA-L's gzip (isal) at its default level: on a synthetic 4 MB menu-like document 2.9 ms
# against zlib level 5's 20.9 ms, for 12.4 % of the size against 10.9 %; any decoder reads it.
GZIP_LEVEL = 2
# Above this, gzip runs in a thread (ISA-L releases the GIL) so the event loop keeps serving.
GZIP_IN_THREAD_BYTES = 256 * 1024
COMPRESSIBLE = ("application/json", "text/html", "text/csv", "application/problem+json")


@dataclass(frozen=True, slots=True)
class Representation:
    """A response as a handler builds it, before caching headers are added."""

    body: bytes
    content_type: str
    headers: Mapping[str, str] = field(default_factory=dict)
    status: int = 200


async def key(request: web.Request, dataset: Dataset, normalized: str) -> CacheKey:
    """The key of this request's response at the data version this process knows; while the
    change channel is down (see userdir.invalidation), at the version the primary holds."""
    version = request.app[VERSIONS].current(dataset)
    if version is None:
        primary = request.app[DATABASE].primary
        async with primary.turn(), primary.sessions() as session:
            version = await get_version(session, dataset)
    return CacheKey(dataset, version, normalized)


def _respond(entry: Entry, state: str, coded: bool = False) -> web.Response:
    headers = CIMultiDict(entry.headers)
    headers["X-Cache"] = state
    if not coded:
        return web.Response(status=entry.status, headers=headers, body=entry.body)
    headers["Content-Encoding"] = "gzip"
    if "ETag" in headers:
        headers["ETag"] = gzip_etag(headers["ETag"])
    return web.Response(status=entry.status, headers=headers, body=entry.gzipped)


def _compressible(entry: Entry) -> bool:
    content_type = entry.header("Content-Type") or ""
    return len(entry.body) >= GZIP_MIN_BYTES and content_type.startswith(COMPRESSIBLE)


async def _with_gzip(entry: Entry) -> Entry:
    if len(entry.body) < GZIP_IN_THREAD_BYTES:
        coded = igzip.compress(entry.body, GZIP_LEVEL, mtime=0)
    else:
        loop = asyncio.get_running_loop()
        compress = functools.partial(igzip.compress, entry.body, GZIP_LEVEL, mtime=0)
        coded = await loop.run_in_executor(None, compress)
    return dataclasses.replace(entry, gzipped=coded)


async def lookup(request: web.Request, key: CacheKey) -> web.Response | None:
    """A 304 when the client holds this representation, else the cached response, or None."""
    ttl = request.app[SETTINGS].cache_ttl
    if (etag := held(request, key)) is not None:
        count_cache(request, "not_modified")
        return not_modified(etag, ttl)
    if ttl <= 0:
        return None
    cache = request.app[CACHE]
    entry = await cache.get(key.text)
    if entry is None:
        return None
    count_cache(request, "hit")
    if not accepts_gzip(request) or not _compressible(entry):
        return _respond(entry, "HIT")
    if entry.gzipped is None:
        # The first client to ask for gzip pays for it once; later ones get the stored bytes.
        entry = await _with_gzip(entry)
        await cache.set(key.text, entry, ttl)
    return _respond(entry, "HIT", coded=True)


async def store(request: web.Request, key: CacheKey | None, result: Representation) -> web.Response:
    """Cache `result` under `key` (None: never cached) and answer with it."""
    settings = request.app[SETTINGS]
    cache = request.app[CACHE]
    headers = [("Content-Type", result.content_type), *result.headers.items()]
    if result.status == 200 and key is not None:
        headers += validators(key.etag, settings.cache_ttl)
    else:
        headers += (("Cache-Control", "no-store"), ("Vary", "Accept"))
    entry = Entry(result.status, tuple(headers), result.body)
    coded = accepts_gzip(request) and _compressible(entry)
    if coded:
        entry = await _with_gzip(entry)
    cacheable = key is not None and settings.cache_ttl > 0 and result.status == 200
    if cacheable and entry.size <= settings.cache_max_entry_bytes:
        await cache.set(key.text, entry, settings.cache_ttl)  # type: ignore[union-attr]
    state = "MISS" if cache.available or not cacheable else "BYPASS"
    if key is not None:
        count_cache(request, state.lower())
    return _respond(entry, state, coded=coded)
