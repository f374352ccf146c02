"""Every URL of the service, in one table."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from userdir.handlers import docs, health, menu, menu_writes, restaurants, users

RESTAURANT = r"/restaurant/{restaurant_id:\d+}"
ITEM = RESTAURANT + r"/item/{item_id:\d+}"
LINK = ITEM + r"/modifiers/{modifier_id:\d+}"


def setup_routes(app: web.Application) -> None:
    app.router.add_routes(
        [
            web.get("/livez", health.livez),
            web.get("/readyz", health.readyz),
            web.get("/healthz", health.readyz),
            web.get("/users", users.list_users),
            web.get("/users/{username}", users.get_user),
            web.get("/restaurant/", health.service_health),
            web.get(RESTAURANT + "/item", menu.list_items),
            # Menus: reads are public, writes need a bearer token (userdir.auth).
            web.get("/restaurant", restaurants.list_restaurants),
            web.post("/restaurant", restaurants.create_restaurant),
            web.get(RESTAURANT, restaurants.get_restaurant),
            web.patch(RESTAURANT, restaurants.update_restaurant),
            web.delete(RESTAURANT, restaurants.delete_restaurant),
            web.post(RESTAURANT + "/item", menu_writes.create_item),
            web.put(RESTAURANT + "/menu", menu_writes.replace_menu),
            web.get(ITEM, menu.get_item),
            web.patch(ITEM, menu_writes.update_item),
            web.delete(ITEM, menu_writes.delete_item),
            web.put(LINK, menu_writes.put_link),
            web.delete(LINK, menu_writes.delete_link),
            web.get("/openapi.json", docs.openapi_json),
            web.get("/docs", docs.docs),
            web.static(docs.DOCS_ASSETS, docs.DOCS_ASSETS_DIR),
        ]
    )
    app.router.add_static("/static/", Path(__file__).parent / "static", name="static")
