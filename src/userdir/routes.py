"""Every URL of the service, in one table."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from userdir.handlers import docs, health, menu, users


def setup_routes(app: web.Application) -> None:
    app.router.add_routes(
        [
            web.get("/healthz", health.healthz),
            web.get("/users", users.list_users),
            web.get("/users/{username}", users.get_user),
            web.get("/restaurant/", health.service_health),
            web.get(r"/restaurant/{restaurant_id:\d+}/item", menu.list_items),
            web.get("/openapi.json", docs.openapi_json),
            web.get("/docs", docs.docs),
            web.static(docs.DOCS_ASSETS, docs.DOCS_ASSETS_DIR),
        ]
    )
    app.router.add_static("/static/", Path(__file__).parent / "static", name="static")
