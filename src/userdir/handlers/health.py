from __future__ import annotations

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from userdir import __version__
from userdir.errors import ServiceUnavailable
from userdir.keys import ENGINE
from userdir.responses import json_response


async def service_health(request: web.Request) -> web.Response:
    return json_response({"status": "ok", "service": "userdir", "version": __version__})


async def healthz(request: web.Request) -> web.Response:
    try:
        async with request.app[ENGINE].connect() as conn:
            await conn.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as exc:
        raise ServiceUnavailable(f"Database unreachable: {type(exc).__name__}.") from None
    return json_response({"status": "ok", "database": "ok"})
