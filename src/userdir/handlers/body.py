"""JSON request bodies, read once and parsed with orjson."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from userdir.errors import ApiError, BadRequest


class UnsupportedMediaType(ApiError):
    status = 415


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or content_type.endswith("+json")


async def json_body(request: web.Request, *, optional: bool = False) -> Any:
    """The parsed body; `{}` for an absent body where the fields are all optional."""
    raw = await request.read()
    if not raw.strip():
        if optional:
            return {}
        raise BadRequest("This request needs a JSON body.")
    if not _is_json(request.content_type):
        raise UnsupportedMediaType(
            f"The body must be application/json, not {request.content_type}."
        )
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"The body is not valid JSON: {exc}.") from None
