from __future__ import annotations

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from userdir import __version__
from userdir.db import ping
from userdir.errors import ServiceUnavailable
from userdir.keys import ENGINE
from userdir.responses import json_response
from userdir.schemas.health import HEALTH_OUT, SERVICE_OUT


async def service_health(request: web.Request) -> web.Response:
    data = {"status": "ok", "service": "userdir", "version": __version__}
    return json_response(SERVICE_OUT.dump(data))


async def healthz(request: web.Request) -> web.Response:
    try:
        await ping(request.app[ENGINE])
    except (SQLAlchemyError, OSError) as exc:
        raise ServiceUnavailable(f"Database unreachable: {type(exc).__name__}.") from None
    return json_response(HEALTH_OUT.dump({"status": "ok", "database": "ok"}))
