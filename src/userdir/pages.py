"""HTML pages for browsers: the users directory and readable error pages.

Templates autoescape everything; links to profiles and avatars are emitted only for http(s)
URLs, since escaping alone does not stop a `javascript:` URL.
"""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp_jinja2
from aiohttp import web
from yarl import URL

from userdir.directory import USER_FIELDS, FilterValue, Page, UsersQuery
from userdir.errors import PROBLEM_RENDERER
from userdir.links import PAGING_PARAMETERS
from userdir.negotiation import prefers_html
from userdir.schemas.users import DEFAULT_PAGE_SIZE, OPERATORS, USER_OUT

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


def _sort_links(url: URL, order_by: list[str]) -> dict[str, dict[str, str]]:
    """Each column header: its sort state and the URL that sorts by it (again: reversed)."""
    base = url.without_query_params(*PAGING_PARAMETERS)
    first = order_by[0]
    headers = {}
    for name in USER_FIELDS:
        state = "asc" if first == name else "desc" if first == f"-{name}" else ""
        target = f"-{name}" if state == "asc" else name
        headers[name] = {"state": state, "url": str(base.update_query(order_by=target))}
    return headers


def _filter_value(value: FilterValue) -> str:
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


def render_users(
    request: web.Request, query: UsersQuery, page: Page, links: Mapping[str, URL]
) -> bytes:
    rows = [
        {
            **USER_OUT.dump(row),
            "safe_profile_url": _safe_url(row.profile_url),
            "safe_image_url": _safe_url(row.image_url),
        }
        for row in page.rows
    ]
    order_by = [str(term) for term in query.order_by]
    context = {
        "rows": rows,
        "count": page.count,
        "fields": USER_FIELDS,
        "operators": {name: ("eq", *ops) for name, ops in OPERATORS.items()},
        "labels": OPERATOR_LABELS,
        "filters": [[f.field, f.operator, _filter_value(f.value)] for f in query.filters],
        "order_by": ",".join(order_by),
        "count_mode": query.count,
        "sort": _sort_links(request.rel_url, order_by),
        "page_sizes": PAGE_SIZES,
        "page_size": query.pagination,
        "default_page_size": DEFAULT_PAGE_SIZE,
        "links": {rel: str(url) for rel, url in links.items()},
    }
    html = aiohttp_jinja2.render_string("users.html", request, context)
    return html.encode()


def render_problem(request: web.Request, problem: Mapping[str, object]) -> bytes | None:
    if not prefers_html(request):
        return None
    return aiohttp_jinja2.render_string("problem.html", request, {"problem": problem}).encode()


def setup_pages(app: web.Application) -> None:
    app[PROBLEM_RENDERER] = render_problem
