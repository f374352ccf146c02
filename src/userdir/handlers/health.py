"""Health for load balancers and orchestrators: liveness, readiness, and the service's name."""

from __future__ import annotations

import asyncio

from aiohttp import web

from userdir import __version__
from userdir.db import DATABASE_FAULTS, ping
from userdir.errors import unavailable
from userdir.keys import CACHE, DATABASE, VERSIONS
from userdir.responses import json_response
from userdir.schemas.health import LIVE_OUT, READY_OUT, SERVICE_OUT

# Readiness answers within this, whatever the database does: a probe that hangs is no probe.
READY_PING_TIMEOUT = 2.0


async def service_health(request: web.Request) -> web.Response:
    data = {"status": "ok", "service": "userdir", "version": __version__}
    return json_response(SERVICE_OUT.dump(data))


async def livez(request: web.Request) -> web.Response:
    """The process serves requests; touches neither the database nor the cache."""
    return json_response(LIVE_OUT.dump({"status": "ok"}))


async def readyz(request: web.Request) -> web.Response:
    """Ready while the primary database answers (else 503). A skipped cache or replica is
    reported but still ready: the service then answers from the database."""
    database = request.app[DATABASE]
    try:
        async with asyncio.timeout(READY_PING_TIMEOUT):
            await ping(database.primary.engine)
        reachable = True
    except DATABASE_FAULTS:
        reachable = False
    data = {
        "status": "ok" if reachable else "unavailable",
        "database": "ok" if reachable else "unavailable",
        "cache": request.app[CACHE].state,
        "versions": "live" if request.app[VERSIONS].live else "per-request",
        "replicas": {r.name: "in use" if r.healthy else "skipped" for r in database.replicas},
    }
    if not reachable:
        return unavailable(request, f"Not ready: the database is unavailable ({data}).")
    return json_response(READY_OUT.dump(data))
