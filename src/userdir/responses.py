"""JSON bodies, encoded once, with orjson."""

from __future__ import annotations

from collections.abc import Mapping

import orjson
from aiohttp import web

JSON = "application/json"


def dumps(data: object) -> bytes:
    return orjson.dumps(data)


def json_response(
    data: object, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(body=dumps(data), status=status, headers=headers, content_type=JSON)
