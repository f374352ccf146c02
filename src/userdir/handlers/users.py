"""GET /users (JSON, HTML or CSV) and GET /users/{username}."""

from __future__ import annotations

from aiohttp import web

from userdir import cached, parse, users_page
from userdir.datasets import USERS
from userdir.db import direct
from userdir.handlers.users_export import export_csv
from userdir.keys import COUNTS
from userdir.negotiation import negotiate
from userdir.queries import users
from userdir.responses import json_response
from userdir.schemas.users import USER_OUT


async def list_users(request: web.Request) -> web.StreamResponse:
    query = parse.users_query(request)
    representation = negotiate(request, query.format)
    if representation == "csv":
        return await export_csv(request, query)
    key = await cached.key(request, USERS, f"{representation}:{query.normalized}")
    if (hit := await cached.lookup(request, key)) is not None:
        return hit
    # One statement: the page (its count, when asked for, is kept per data version and may
    # come from another moment of that same version).
    async with direct(request, key) as read:
        page = await users.page(read.connection, query, request.app[COUNTS].at(read.key))
    return await cached.store(
        request, read.key, users_page.represent(request, query, page, representation)
    )


async def get_user(request: web.Request) -> web.Response:
    async with direct(request) as read:
        user = await users.get_user(read.connection, username=request.match_info["username"])
    return json_response(USER_OUT.dump(user))
