from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from userdir.auth import requires_token
from userdir.cache import CachedResponse, cached
from userdir.handlers.body import json_body
from userdir.handlers.params import path_id
from userdir.keys import SESSIONMAKER
from userdir.links import link_header, number_links
from userdir.queries import menu as queries
from userdir.queries import menu_writes as writes
from userdir.responses import JSON, dumps, json_response
from userdir.schemas.body import load_body
from userdir.schemas.menu import (
    RESTAURANT_DETAIL_OUT,
    RESTAURANT_OUT,
    RESTAURANTS_OUT,
    RESTAURANTS_QUERY,
)
from userdir.schemas.menu_in import RESTAURANT_IN, RESTAURANT_PATCH
from userdir.schemas.query import load_query


async def list_restaurants(request: web.Request) -> web.Response:
    params = load_query(RESTAURANTS_QUERY, request.query)

    async def produce(session: AsyncSession) -> CachedResponse:
        size, number = params["pagination"], params["page_number"]
        rows = await queries.list_restaurants(session, limit=size, offset=(number - 1) * size)
        total = await queries.count_restaurants(session)
        headers = {"X-Total-Count": str(total)}
        if links := number_links(request.rel_url, number, size, total):
            headers["Link"] = link_header(links)
        return CachedResponse(dumps(RESTAURANTS_OUT.dump(rows)), JSON, headers)

    return await cached(request, queries.RESTAURANTS, params, produce)


async def get_restaurant(request: web.Request) -> web.Response:
    restaurant_id = path_id(request, "restaurant_id", "restaurant")

    async def produce(session: AsyncSession) -> CachedResponse:
        restaurant = await queries.get_restaurant(session, restaurant_id=restaurant_id)
        counts = await queries.count_menu(session, restaurant_id=restaurant_id)
        data = {"id": restaurant.id, "name": restaurant.name, **counts}
        return CachedResponse(dumps(RESTAURANT_DETAIL_OUT.dump(data)), JSON)

    version = queries.menu_version(restaurant_id)
    return await cached(request, version, {"restaurant": restaurant_id}, produce)


@requires_token
async def create_restaurant(request: web.Request) -> web.Response:
    data = load_body(RESTAURANT_IN, await json_body(request))
    async with request.app[SESSIONMAKER].begin() as session:
        restaurant = await writes.create_restaurant(session, name=data["name"])
    location = {"Location": f"/restaurant/{restaurant.id}"}
    return json_response(RESTAURANT_OUT.dump(restaurant), status=201, headers=location)


@requires_token
async def update_restaurant(request: web.Request) -> web.Response:
    restaurant_id = path_id(request, "restaurant_id", "restaurant")
    changes = load_body(RESTAURANT_PATCH, await json_body(request))
    async with request.app[SESSIONMAKER].begin() as session:
        restaurant = await writes.update_restaurant(
            session, restaurant_id=restaurant_id, changes=changes
        )
    return json_response(RESTAURANT_OUT.dump(restaurant))


@requires_token
async def delete_restaurant(request: web.Request) -> web.Response:
    restaurant_id = path_id(request, "restaurant_id", "restaurant")
    async with request.app[SESSIONMAKER].begin() as session:
        await writes.delete_restaurant(session, restaurant_id=restaurant_id)
    return web.Response(status=204)
