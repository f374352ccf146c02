"""Content negotiation: which representation of a resource a request asks for."""

from __future__ import annotations

import functools

from aiohttp import web

MEDIA_TYPES = {"json": "application/json", "csv": "text/csv", "html": "text/html"}


def _accepted(header: str) -> list[tuple[float, int, str]]:
    """(quality, -position, media range) for each entry of an Accept header."""
    entries = []
    for position, part in enumerate(header.split(",")):
        media, *parameters = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = max(0.0, min(1.0, float(value)))
                except ValueError:
                    quality = 0.0
        if media:
            entries.append((quality, -position, media.lower()))
    return entries


def negotiate(request: web.Request, explicit: str | None = None) -> str:
    """ "json", "csv" or "html". An explicit `format` wins; else the best Accept match, JSON on
    a tie (so `*/*` and a missing header stay JSON) and when nothing offered is acceptable."""
    if explicit is not None:
        return explicit
    return _best(request.headers.get("Accept", ""))


# Clients send a handful of distinct Accept headers: each is worked out once.
@functools.lru_cache(maxsize=256)
def _best(accept: str) -> str:
    best, best_rank = "json", (0.0, 0, 0)
    for quality, position, media in _accepted(accept):
        for name, offered in MEDIA_TYPES.items():
            kind = offered.split("/")[0]
            specificity = {offered: 2, f"{kind}/*": 1, "*/*": 0}.get(media)
            if specificity is None or quality <= 0:
                continue
            # An exact type outranks a wildcard of the same quality; JSON wins exact ties.
            rank = (quality, specificity, position)
            if rank > best_rank or (rank == best_rank and name == "json"):
                best, best_rank = name, rank
    return best


def prefers_html(request: web.Request) -> bool:
    return negotiate(request) == "html"
