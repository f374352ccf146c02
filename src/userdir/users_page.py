"""A page of the users directory as the client gets it: the body (JSON or HTML), the Link
header with signed cursors, and the count headers."""

from __future__ import annotations

import orjson
from aiohttp import web
from yarl import URL

from userdir.cached import Representation
from userdir.cursor import derive_secret, encode_cursor
from userdir.directory import Count, Page, UsersQuery
from userdir.keys import SETTINGS
from userdir.links import last_page, link_header, page_links
from userdir.negotiation import MEDIA_TYPES
from userdir.pages import render_users
from userdir.queries.user_filters import sort_key


def represent(
    request: web.Request, query: UsersQuery, page: Page, representation: str
) -> Representation:
    links = links_for(request, query, page)
    headers = {**count_headers(page.count), "Link": link_header(links)}
    if representation == "html":
        body = render_users(request, query, page, links)
    else:
        body = orjson.dumps(page.rows)  # UserRow's fields are UserOut's, in order
    return Representation(body, MEDIA_TYPES[representation], headers)


def links_for(request: web.Request, query: UsersQuery, page: Page) -> dict[str, URL]:
    rows = page.rows
    backwards = query.backwards
    has_next = bool(rows) and (backwards or page.more)
    has_prev = bool(rows) and (page.more if backwards else query.after is not None)
    prev_page = None
    number = query.page_number
    if not has_prev and number > 1 and query.after is None and not backwards:
        prev_page = number - 1
        if page.count is not None:
            prev_page = min(prev_page, last_page(page.count.value, query.pagination))
    settings = request.app[SETTINGS]
    secret = derive_secret(settings.cursor_secret, settings.database_url)
    bound_to = query.bound_to

    def cursor(index: int) -> str:
        return encode_cursor(secret, bound_to, sort_key(rows[index], query.order_by))

    return page_links(
        request.rel_url,
        next_cursor=cursor(-1) if has_next else None,
        prev_cursor=cursor(0) if has_prev else None,
        prev_page=prev_page,
    )


def count_headers(count: Count | None) -> dict[str, str]:
    if count is None:
        return {}
    kind = "exact" if count.exact else "estimated"
    return {"X-Total-Count": str(count.value), "X-Total-Count-Kind": kind}
