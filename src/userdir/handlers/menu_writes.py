"""Writes to a menu: items, the links between them, and a whole menu at once."""

from __future__ import annotations

from aiohttp import web

from userdir.auth import requires_token
from userdir.db import writer
from userdir.keys import SETTINGS
from userdir.menu.document import load_menu_document
from userdir.menu.values import ItemFields, LinkAttributes
from userdir.parse import json_body, load_body, path_id
from userdir.queries import menu as queries
from userdir.queries import menu_writes as writes
from userdir.responses import JSON, json_response
from userdir.schemas.menu import ITEM_FIELDS_OUT, LINK_OUT
from userdir.schemas.menu_in import ITEM_IN, ITEM_PATCH, LINK_IN


def _ids(request: web.Request) -> tuple[int, int]:
    return (
        path_id(request, "restaurant_id"),
        path_id(request, "item_id"),
    )


@requires_token
async def create_item(request: web.Request) -> web.Response:
    restaurant_id = path_id(request, "restaurant_id")
    fields = load_body(ITEM_IN, await json_body(request), ItemFields)
    async with writer(request) as session:
        item = await writes.create_item(session, restaurant_id=restaurant_id, fields=fields)
    location = {"Location": f"/restaurant/{restaurant_id}/item/{item.id}"}
    return json_response(ITEM_FIELDS_OUT.dump(item), status=201, headers=location)


@requires_token
async def update_item(request: web.Request) -> web.Response:
    restaurant_id, item_id = _ids(request)
    changes = load_body(ITEM_PATCH, await json_body(request), dict)
    async with writer(request) as session:
        item = await writes.update_item(
            session, restaurant_id=restaurant_id, item_id=item_id, changes=changes
        )
    return json_response(ITEM_FIELDS_OUT.dump(item))


@requires_token
async def delete_item(request: web.Request) -> web.Response:
    restaurant_id, item_id = _ids(request)
    async with writer(request) as session:
        await writes.delete_item(session, restaurant_id=restaurant_id, item_id=item_id)
    return web.Response(status=204)


@requires_token
async def put_link(request: web.Request) -> web.Response:
    restaurant_id, item_id = _ids(request)
    modifier_id = path_id(request, "modifier_id")
    attributes = load_body(LINK_IN, await json_body(request, optional=True), LinkAttributes)
    async with writer(request) as session:
        link, created = await writes.put_link(
            session,
            restaurant_id=restaurant_id,
            item_id=item_id,
            modifier_id=modifier_id,
            attributes=attributes,
            max_depth=request.app[SETTINGS].max_depth,
        )
    if created:
        return json_response(LINK_OUT.dump(link), status=201, headers={"Location": request.path})
    return json_response(LINK_OUT.dump(link))


@requires_token
async def delete_link(request: web.Request) -> web.Response:
    restaurant_id, item_id = _ids(request)
    modifier_id = path_id(request, "modifier_id")
    async with writer(request) as session:
        await writes.delete_link(
            session, restaurant_id=restaurant_id, item_id=item_id, modifier_id=modifier_id
        )
    return web.Response(status=204)


@requires_token
async def replace_menu(request: web.Request) -> web.Response:
    restaurant_id = path_id(request, "restaurant_id")
    max_depth = request.app[SETTINGS].max_depth
    items, links = load_menu_document(await json_body(request), max_depth=max_depth)
    writes.check_document(items, links, max_depth=max_depth)
    async with writer(request) as session:
        await writes.replace_menu(session, restaurant_id=restaurant_id, items=items, links=links)
        # The flat read's own query: the database serializes a large menu far faster than
        # building a dict per row in Python.
        menu = await queries.flat_menu_json(await session.connection(), restaurant_id=restaurant_id)
    return web.Response(body=menu, content_type=JSON)
