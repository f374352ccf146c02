"""HTTP conditional requests and caching headers: ETag, If-None-Match, Cache-Control, Vary,
and which content coding a client accepts."""

from __future__ import annotations

from aiohttp import web

from userdir.datasets import CacheKey

# Responses differ by representation (Accept) and may be sent gzip-coded (Accept-Encoding).
VARY = "Accept, Accept-Encoding"
GZIP_SUFFIX = "-gzip"  # a coded variant is another representation: its strong ETag differs


def cache_control(ttl: int) -> str:
    # Revalidating with If-None-Match costs no database work, so a stale copy may be shown
    # while that happens.
    if ttl <= 0:
        return "no-cache"
    return f"public, max-age={ttl}, stale-while-revalidate={ttl}"


def validators(etag: str, ttl: int) -> tuple[tuple[str, str], ...]:
    return (("ETag", etag), ("Cache-Control", cache_control(ttl)), ("Vary", VARY))


def gzip_etag(etag: str) -> str:
    return f'{etag[:-1]}{GZIP_SUFFIX}"'


def held(request: web.Request, key: CacheKey) -> str | None:
    """The ETag of `key`, in the coding the client holds, when If-None-Match names this
    representation (the weak comparison of RFC 9110 13.1.2); else None."""
    if "If-None-Match" not in request.headers:
        return None  # the common case: no validator worked out
    etag = key.etag
    plain = etag.strip('"')
    coded = plain + GZIP_SUFFIX
    for tag in request.if_none_match or ():
        if tag.value == coded:
            return gzip_etag(etag)
        if tag.value in ("*", plain):
            return etag
    return None


def not_modified(etag: str, ttl: int) -> web.Response:
    return web.Response(status=304, headers=dict(validators(etag, ttl)))


def accepts_gzip(request: web.Request) -> bool:
    header = request.headers.get("Accept-Encoding")
    if not header or "gzip" not in header:
        return False
    for part in header.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in ("gzip", "x-gzip", "*"):
            quality = params.strip().removeprefix("q=").strip() or "1"
            try:
                return float(quality) > 0
            except ValueError:
                return False
    return False
