"""Path parameters shared by handlers."""

from __future__ import annotations

from aiohttp import web

from userdir.errors import NotFound

# Menu tables use INTEGER keys: a larger id cannot exist, and the drivers would reject it.
MAX_ID = 2**31 - 1


def path_id(request: web.Request, name: str, what: str) -> int:
    """The `{name}` path segment (routes restrict it to digits) as an id, or 404."""
    value = int(request.match_info[name])
    if not 0 < value <= MAX_ID:
        raise NotFound(f"No {what} with id {request.match_info[name]}.")
    return value
