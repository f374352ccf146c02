from __future__ import annotations

from typing import Any

from aiohttp import web

from userdir.cache import CachedResponse, cached
from userdir.keys import SESSIONMAKER
from userdir.links import page_links
from userdir.queries import users as queries
from userdir.responses import JSON, dumps, json_response
from userdir.schemas.query import load_query
from userdir.schemas.users import USER_FIELDS, USER_OUT, USERS_OUT, USERS_QUERY


async def list_users(request: web.Request) -> web.Response:
    params = load_query(USERS_QUERY, request.query)

    async def produce() -> CachedResponse:
        filters = {name: params[name] for name in USER_FIELDS if name in params}
        size, number = params["pagination"], params["page_number"]
        async with request.app[SESSIONMAKER]() as session:
            rows = await queries.list_users(
                session,
                filters=filters,
                order_by=params["order_by"],
                limit=size,
                offset=(number - 1) * size,
            )
            total = await queries.count_users(session, filters=filters)
        headers = {"X-Total-Count": str(total)}
        if link := page_links(request.url, number, size, total):
            headers["Link"] = link
        return CachedResponse(dumps(USERS_OUT.dump(rows)), JSON, headers)

    return await cached(request, "users", params, produce)


async def get_user(request: web.Request) -> web.Response:
    username = request.match_info["username"]
    async with request.app[SESSIONMAKER]() as session:
        user = await queries.get_user(session, username=username)
    data: dict[str, Any] = USER_OUT.dump(user)
    return json_response(data)
