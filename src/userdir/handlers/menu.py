from __future__ import annotations

from aiohttp import web

from userdir.cache import CachedResponse, cached
from userdir.graph import nest
from userdir.handlers.params import path_id
from userdir.keys import SESSIONMAKER, SETTINGS
from userdir.queries import menu as queries
from userdir.responses import JSON, dumps
from userdir.schemas.menu import ITEMS_OUT, menu_query_schema
from userdir.schemas.query import load_query


async def list_items(request: web.Request) -> web.Response:
    restaurant_id = path_id(request, "restaurant_id", "restaurant")
    params = load_query(menu_query_schema(request.app[SETTINGS].max_depth), request.query)

    async def produce() -> CachedResponse:
        async with request.app[SESSIONMAKER]() as session:
            await queries.get_restaurant(session, restaurant_id=restaurant_id)
            items = await queries.list_items(session, restaurant_id=restaurant_id)
            edges = await queries.list_edges(session, restaurant_id=restaurant_id)
        tree = nest(items, edges, depth=params["depth"])
        return CachedResponse(dumps(ITEMS_OUT.dump(tree)), JSON)

    return await cached(request, "menu", {"restaurant": restaurant_id, **params}, produce)
