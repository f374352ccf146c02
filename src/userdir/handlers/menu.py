from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from userdir import cached, parse
from userdir.cached import Representation
from userdir.datasets import menu
from userdir.db import reader
from userdir.errors import BadRequest
from userdir.graph import children_of, flat, nest, nested_size
from userdir.keys import SETTINGS
from userdir.queries import menu as queries
from userdir.responses import JSON, dumps
from userdir.schemas.menu import MenuQuery, menu_query_schema

Row = dict[str, Any]


def render(
    items: Sequence[Row],
    links: Sequence[Row],
    query: MenuQuery,
    *,
    budget: int,
    roots: Sequence[int] | None = None,
) -> Any:
    if query.format == "flat":
        return flat(items, links)
    depth = query.depth
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
    restaurant_id = parse.path_id(request, "restaurant_id")
    settings = request.app[SETTINGS]
    query = parse.query(menu_query_schema(settings.max_depth), request, MenuQuery)
    key = await cached.key(request, menu(restaurant_id), f"items:{query.normalized}")
    if (hit := await cached.lookup(request, key)) is not None:
        return hit
    async with reader(request, key) as snapshot:
        session = snapshot.session
        await queries.get_restaurant(session, restaurant_id=restaurant_id)
        if query.format == "flat":
            body = await queries.flat_menu_json(session, restaurant_id=restaurant_id)
        else:
            items = await queries.list_items(session, restaurant_id=restaurant_id)
            links = await queries.list_links(session, restaurant_id=restaurant_id)
            body = dumps(render(items, links, query, budget=settings.max_nested_nodes))
    return await cached.store(request, snapshot.key, Representation(body, JSON))


async def get_item(request: web.Request) -> web.Response:
    restaurant_id = parse.path_id(request, "restaurant_id")
    item_id = parse.path_id(request, "item_id")
    settings = request.app[SETTINGS]
    query = parse.query(menu_query_schema(settings.max_depth), request, MenuQuery)
    key = await cached.key(request, menu(restaurant_id), f"item:{item_id}:{query.normalized}")
    if (hit := await cached.lookup(request, key)) is not None:
        return hit
    # Nested needs `depth` levels only; flat shows the whole subtree.
    depth = None if query.format == "flat" else query.depth
    where: dict[str, Any] = {"restaurant_id": restaurant_id, "item_id": item_id, "depth": depth}
    async with reader(request, key) as snapshot:
        await queries.get_restaurant(snapshot.session, restaurant_id=restaurant_id)
        items = await queries.list_subtree_items(snapshot.session, **where)
        links = await queries.list_subtree_links(snapshot.session, **where)
    body = render(items, links, query, budget=settings.max_nested_nodes, roots=[item_id])
    shown = body if query.format == "flat" else body[0]
    return await cached.store(request, snapshot.key, Representation(dumps(shown), JSON))
