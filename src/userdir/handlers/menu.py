from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from userdir.cache import CachedResponse, cached
from userdir.errors import BadRequest
from userdir.graph import children_of, flat, nest, nested_size
from userdir.handlers.params import path_id
from userdir.keys import SETTINGS
from userdir.queries import menu as queries
from userdir.responses import JSON, dumps
from userdir.schemas.menu import menu_query_schema
from userdir.schemas.query import load_query

Row = dict[str, Any]


def render(
    items: Sequence[Row],
    links: Sequence[Row],
    params: Row,
    *,
    budget: int,
    roots: Sequence[int] | None = None,
) -> Any:
    if params["format"] == "flat":
        return flat(items, links)
    depth = params["depth"]
    starts = [item["id"] for item in items] if roots is None else roots
    totals = nested_size(starts, children_of(links), depth, budget)
    if totals[-1] > budget:
        # Shared modifiers multiply at every level: refuse rather than cut without saying.
        fits = [d for d, total in enumerate(totals) if total <= budget]
        allowed = [f"0..{fits[-1]}"] if fits else []
        detail = (
            f"Nested to depth {depth} this menu has more than {budget} entries; "
            "ask for a smaller depth or for format=flat."
        )
        error = {"parameter": "depth", "detail": detail, "allowed": allowed}
        raise BadRequest(detail, errors=[error])
    return nest(items, links, depth=depth, roots=roots)


async def list_items(request: web.Request) -> web.Response:
    restaurant_id = path_id(request, "restaurant_id", "restaurant")
    settings = request.app[SETTINGS]
    params = load_query(menu_query_schema(settings.max_depth), request.query)

    async def produce(session: AsyncSession) -> CachedResponse:
        await queries.get_restaurant(session, restaurant_id=restaurant_id)
        if params["format"] == "flat":
            menu = await queries.flat_menu_json(session, restaurant_id=restaurant_id)
            return CachedResponse(menu, JSON)
        items = await queries.list_items(session, restaurant_id=restaurant_id)
        links = await queries.list_links(session, restaurant_id=restaurant_id)
        body = render(items, links, params, budget=settings.max_nested_nodes)
        return CachedResponse(dumps(body), JSON)

    version = queries.menu_version(restaurant_id)
    return await cached(request, version, {"restaurant": restaurant_id, **params}, produce)


async def get_item(request: web.Request) -> web.Response:
    restaurant_id = path_id(request, "restaurant_id", "restaurant")
    item_id = path_id(request, "item_id", "item")
    settings = request.app[SETTINGS]
    params = load_query(menu_query_schema(settings.max_depth), request.query)

    async def produce(session: AsyncSession) -> CachedResponse:
        # Nested needs `depth` levels only; flat shows the whole subtree.
        depth = None if params["format"] == "flat" else params["depth"]
        where: dict[str, Any] = {"restaurant_id": restaurant_id, "item_id": item_id, "depth": depth}
        await queries.get_restaurant(session, restaurant_id=restaurant_id)
        items = await queries.list_subtree_items(session, **where)
        links = await queries.list_subtree_links(session, **where)
        body = render(items, links, params, budget=settings.max_nested_nodes, roots=[item_id])
        return CachedResponse(dumps(body if params["format"] == "flat" else body[0]), JSON)

    version = queries.menu_version(restaurant_id)
    key = {"restaurant": restaurant_id, "item": item_id, **params}
    return await cached(request, version, key, produce)
