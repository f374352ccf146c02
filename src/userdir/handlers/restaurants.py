"""Restaurants: the list, one restaurant with its menu's size, and their writes."""

from __future__ import annotations

from aiohttp import web

from userdir import cached, parse
from userdir.auth import requires_token
from userdir.cached import Representation
from userdir.datasets import RESTAURANTS, menu
from userdir.db import reader, writer
from userdir.links import link_header, number_links
from userdir.queries import menu as queries
from userdir.queries import menu_writes as writes
from userdir.responses import JSON, dumps, json_response
from userdir.schemas.menu import (
    RESTAURANT_DETAIL_OUT,
    RESTAURANT_OUT,
    RESTAURANTS_OUT,
    RESTAURANTS_QUERY,
    RestaurantsQuery,
)
from userdir.schemas.menu_in import RESTAURANT_IN, RESTAURANT_PATCH


async def list_restaurants(request: web.Request) -> web.Response:
    query = parse.query(RESTAURANTS_QUERY, request, RestaurantsQuery)
    key = await cached.key(request, RESTAURANTS, query.normalized)
    if (hit := await cached.lookup(request, key)) is not None:
        return hit
    size, number = query.pagination, query.page_number
    async with reader(request, key) as snapshot:
        rows = await queries.list_restaurants(
            snapshot.session, limit=size, offset=(number - 1) * size
        )
        total = await queries.count_restaurants(snapshot.session)
    headers = {"X-Total-Count": str(total)}
    if links := number_links(request.rel_url, number, size, total):
        headers["Link"] = link_header(links)
    body = dumps(RESTAURANTS_OUT.dump(rows))
    return await cached.store(request, snapshot.key, Representation(body, JSON, headers))


async def get_restaurant(request: web.Request) -> web.Response:
    restaurant_id = parse.path_id(request, "restaurant_id")
    key = await cached.key(request, menu(restaurant_id), "detail")
    if (hit := await cached.lookup(request, key)) is not None:
        return hit
    async with reader(request, key) as snapshot:
        restaurant = await queries.get_restaurant(snapshot.session, restaurant_id=restaurant_id)
        counts = await queries.count_menu(snapshot.session, restaurant_id=restaurant_id)
    data = {
        "id": restaurant.id,
        "name": restaurant.name,
        "items": counts.items,
        "links": counts.links,
    }
    body = dumps(RESTAURANT_DETAIL_OUT.dump(data))
    return await cached.store(request, snapshot.key, Representation(body, JSON))


@requires_token
async def create_restaurant(request: web.Request) -> web.Response:
    data = parse.load_body(RESTAURANT_IN, await parse.json_body(request), dict)
    async with writer(request) as session:
        restaurant = await writes.create_restaurant(session, name=data["name"])
    location = {"Location": f"/restaurant/{restaurant.id}"}
    return json_response(RESTAURANT_OUT.dump(restaurant), status=201, headers=location)


@requires_token
async def update_restaurant(request: web.Request) -> web.Response:
    restaurant_id = parse.path_id(request, "restaurant_id")
    changes = parse.load_body(RESTAURANT_PATCH, await parse.json_body(request), dict)
    async with writer(request) as session:
        restaurant = await writes.update_restaurant(
            session, restaurant_id=restaurant_id, changes=changes
        )
    return json_response(RESTAURANT_OUT.dump(restaurant))


@requires_token
async def delete_restaurant(request: web.Request) -> web.Response:
    restaurant_id = parse.path_id(request, "restaurant_id")
    async with writer(request) as session:
        await writes.delete_restaurant(session, restaurant_id=restaurant_id)
    return web.Response(status=204)
