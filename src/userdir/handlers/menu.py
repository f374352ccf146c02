from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from userdir import cached, parse
from userdir.cached import Representation
from userdir.datasets import CacheKey, menu
from userdir.db import direct, reader
from userdir.errors import BadRequest
from userdir.keys import NESTED_SIZES, SETTINGS
from userdir.menu import gc_pause
from userdir.menu.render import json_list, nest
from userdir.menu.sizes import Totals
from userdir.queries import menu as queries
from userdir.responses import JSON
from userdir.schemas.menu import MenuQuery, menu_query_schema


def _too_large(totals: Totals, depth: int) -> BadRequest:
    # Shared modifiers multiply at every level: refuse rather than cut without saying.
    deepest = totals.deepest_fitting()
    detail = (
        f"Nested to depth {depth} this menu has more than {totals.budget} entries; "
        "ask for a smaller depth or for format=flat."
    )
    allowed = [] if deepest is None else [f"0..{deepest}"]
    return BadRequest(detail, errors=[{"parameter": "depth", "detail": detail, "allowed": allowed}])


@dataclass(frozen=True, slots=True)
class Nesting:
    """A nested rendering: from `root` (None: every item of the restaurant), `depth` deep."""

    restaurant_id: int
    root: int | None
    depth: int


async def check_size(
    request: web.Request, key: CacheKey, nesting: Nesting, session: AsyncSession | None = None
) -> None:
    """Raise BadRequest when the rendering passes MAX_NESTED_NODES. Decided from the sizes
    known at `key`'s version; unknown ones are counted on `session` (without it, an unknown
    size is left for the read to decide)."""
    sizes = request.app[NESTED_SIZES]
    totals = sizes.get(key, nesting.root, nesting.depth)
    if totals is None:
        if session is None:
            return
        budget = request.app[SETTINGS].max_nested_nodes
        counted = await queries.nested_totals(
            session,
            restaurant_id=nesting.restaurant_id,
            root=nesting.root,
            depth=nesting.depth,
            budget=budget,
        )
        totals = sizes.put(key, nesting.root, counted, budget)
    if not totals.fits(nesting.depth):
        raise _too_large(totals, nesting.depth)


async def list_items(request: web.Request) -> web.Response:
    restaurant_id = parse.path_id(request, "restaurant_id")
    settings = request.app[SETTINGS]
    query = parse.query(menu_query_schema(settings.max_depth), request, MenuQuery)
    key = await cached.key(request, menu(restaurant_id), f"items:{query.normalized}")
    if (hit := await cached.lookup(request, key)) is not None:
        return hit
    if query.format == "flat":
        # One statement: the restaurant's existence and the whole document.
        async with direct(request, key) as read:
            body = await queries.flat_menu_json(read.connection, restaurant_id=restaurant_id)
        return await cached.store(request, read.key, Representation(body, JSON))
    nesting = Nesting(restaurant_id, None, query.depth)
    await check_size(request, key, nesting)  # a repeated refusal needs no database
    async with reader(request, key) as snapshot:
        session = snapshot.session
        await queries.get_restaurant(session, restaurant_id=restaurant_id)
        assert snapshot.key is not None
        await check_size(request, snapshot.key, nesting, session)
        items = await queries.list_items(session, restaurant_id=restaurant_id)
        links = await queries.list_links(session, restaurant_id=restaurant_id)
        with gc_pause.paused():
            body = json_list(nest(items, links, depth=query.depth))
    return await cached.store(request, snapshot.key, Representation(body, JSON))


async def get_item(request: web.Request) -> web.Response:
    restaurant_id = parse.path_id(request, "restaurant_id")
    item_id = parse.path_id(request, "item_id")
    settings = request.app[SETTINGS]
    query = parse.query(menu_query_schema(settings.max_depth), request, MenuQuery)
    key = await cached.key(request, menu(restaurant_id), f"item:{item_id}:{query.normalized}")
    if (hit := await cached.lookup(request, key)) is not None:
        return hit
    if query.format == "flat":
        # One statement: the restaurant's existence and the item's whole subtree.
        async with direct(request, key) as read:
            body = await queries.flat_subtree_json(
                read.connection, restaurant_id=restaurant_id, item_id=item_id
            )
        return await cached.store(request, read.key, Representation(body, JSON))
    nesting = Nesting(restaurant_id, item_id, query.depth)
    await check_size(request, key, nesting)
    async with reader(request, key) as snapshot:
        session = snapshot.session
        await queries.get_restaurant(session, restaurant_id=restaurant_id)
        assert snapshot.key is not None
        await check_size(request, snapshot.key, nesting, session)
        subtree = {"restaurant_id": restaurant_id, "item_id": item_id, "depth": query.depth}
        items = await queries.list_subtree_items(session, **subtree)
        links = await queries.list_subtree_links(session, **subtree)
        with gc_pause.paused():
            (body,) = nest(items, links, depth=query.depth, roots=[item_id])
    return await cached.store(request, snapshot.key, Representation(body, JSON))
