from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from userdir.cache import CachedResponse, cached
from userdir.handlers.users_export import export_csv
from userdir.keys import SESSIONMAKER
from userdir.links import link_header
from userdir.negotiation import MEDIA_TYPES, negotiate
from userdir.pages import render_users
from userdir.paging import Cursors, count_headers, links_for
from userdir.queries import users as queries
from userdir.responses import dumps, json_response
from userdir.schemas.query import load_query
from userdir.schemas.users import USER_OUT, USERS_OUT, USERS_QUERY


async def list_users(request: web.Request) -> web.StreamResponse:
    params = load_query(USERS_QUERY, request.query)
    representation = negotiate(request, params.pop("format", None))
    cursors = Cursors.for_query(request, params)
    after, before = cursors.position(params)
    if representation == "csv":
        return await export_csv(request, params, after)

    async def produce(session: AsyncSession) -> CachedResponse:
        size, number = params["pagination"], params["page_number"]
        page = await queries.list_users(
            session,
            filters=params["filters"],
            order_by=params["order_by"],
            limit=size,
            offset=(number - 1) * size,
            after=after,
            before=before,
        )
        count = None
        if params["count"] != "none":
            count = await queries.count_users(
                session, filters=params["filters"], mode=params["count"]
            )
        links = links_for(request.rel_url, params, page, count, cursors)
        headers = {**count_headers(count), "Link": link_header(links)}
        if representation == "html":
            body = render_users(request, params, page, count, links)
        else:
            body = dumps(USERS_OUT.dump(page.rows))
        return CachedResponse(body, MEDIA_TYPES[representation], headers)

    return await cached(request, "users", {**params, "format": representation}, produce)


async def get_user(request: web.Request) -> web.Response:
    username = request.match_info["username"]
    async with request.app[SESSIONMAKER]() as session:
        user = await queries.get_user(session, username=username)
    data: dict[str, Any] = USER_OUT.dump(user)
    return json_response(data)
