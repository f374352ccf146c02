"""HTML pages for browsers: the users directory and readable error pages.

Templates autoescape everything; links to profiles and avatars are emitted only for http(s)
URLs, since escaping alone does not stop a `javascript:` URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from yarl import URL

from userdir.errors import PROBLEM_RENDERER
from userdir.links import PAGING_PARAMETERS
from userdir.negotiation import prefers_html
from userdir.queries.users import Count, Page
from userdir.schemas.users import DEFAULT_PAGE_SIZE, OPERATORS, USER_FIELDS, USERS_OUT

PAGE_SIZES = (10, 25, 50, 100)
OPERATOR_LABELS = {
    "eq": "=",
    "ne": "≠",
    "gt": ">",
    "gte": "≥",
    "lt": "<",
    "lte": "≤",
    "in": "in (a,b,c)",
    "contains": "contains",
    "icontains": "contains (any case)",
    "startswith": "starts with",
}


def _safe_url(value: str) -> str | None:
    return value if value.startswith(("https://", "http://")) else None


def _sort_links(url: URL, order_by: list[str]) -> dict[str, dict[str, Any]]:
    """Each column header: its sort state and the URL that sorts by it (again: reversed)."""
    base = url.without_query_params(*PAGING_PARAMETERS)
    first = order_by[0]
    headers = {}
    for name in USER_FIELDS:
        state = "asc" if first == name else "desc" if first == f"-{name}" else ""
        target = f"-{name}" if state == "asc" else name
        headers[name] = {"state": state, "url": str(base.update_query(order_by=target))}
    return headers


def _filter_value(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def render_users(
    request: web.Request,
    params: Mapping[str, Any],
    page: Page,
    count: Count | None,
    links: Mapping[str, URL],
) -> bytes:
    rows = USERS_OUT.dump(page.rows)
    for row in rows:
        row["safe_profile_url"] = _safe_url(row["profile_url"])
        row["safe_image_url"] = _safe_url(row["image_url"])
    context = {
        "rows": rows,
        "count": count,
        "fields": USER_FIELDS,
        "operators": {name: ("eq", *ops) for name, ops in OPERATORS.items()},
        "labels": OPERATOR_LABELS,
        "filters": [[f, op, _filter_value(v)] for f, op, v in params["filters"]],
        "order_by": ",".join(params["order_by"]),
        "count_mode": params["count"],
        "sort": _sort_links(request.rel_url, params["order_by"]),
        "page_sizes": PAGE_SIZES,
        "page_size": params["pagination"],
        "default_page_size": DEFAULT_PAGE_SIZE,
        "links": {rel: str(url) for rel, url in links.items()},
    }
    html = aiohttp_jinja2.render_string("users.html", request, context)
    return html.encode()


def render_problem(request: web.Request, problem: Mapping[str, Any]) -> bytes | None:
    if not prefers_html(request):
        return None
    return aiohttp_jinja2.render_string("problem.html", request, {"problem": problem}).encode()


def setup_pages(app: web.Application) -> None:
    app[PROBLEM_RENDERER] = render_problem
