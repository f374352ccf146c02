"""The application factory: everything wired per app, nothing created at import time."""

from __future__ import annotations

import aiohttp_jinja2
import jinja2
from aiohttp import web

from userdir.cache import cache_ctx
from userdir.config import Settings
from userdir.counts import Counts
from userdir.db import database_ctx
from userdir.deadlines import deadlines_ctx
from userdir.errors import error_middleware
from userdir.invalidation import versions_ctx
from userdir.keys import COUNTS, NESTED_SIZES, SETTINGS
from userdir.menu.sizes import NestedSizes
from userdir.metrics import setup_metrics
from userdir.openapi.spec import build_openapi
from userdir.pages import setup_pages
from userdir.ratelimit import setup_rate_limit
from userdir.routes import setup_routes

# A whole-menu document at its limits (20,000 items, 100,000 links) is about 10 MB of JSON;
# bodies are read only after the bearer token is checked, so the limit serves writers alone.
MAX_BODY_BYTES = 16 * 1024 * 1024


def create_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[error_middleware], client_max_size=MAX_BODY_BYTES)
    app[SETTINGS] = settings
    app[COUNTS] = Counts()
    app[NESTED_SIZES] = NestedSizes()
    # In this order: the versions' watcher needs the database; all stop in reverse.
    app.cleanup_ctx.extend([deadlines_ctx, database_ctx, versions_ctx, cache_ctx])
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("userdir", "templates"),
        autoescape=jinja2.select_autoescape(default=True),
    )
    setup_rate_limit(app)
    setup_metrics(app)
    setup_routes(app)
    setup_pages(app)
    app.on_startup.append(build_openapi)
    return app
