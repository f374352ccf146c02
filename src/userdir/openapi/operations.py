"""What every route does, for the OpenAPI document: one entry per method and path of routes.py.

Keys are "METHOD /path" with the path as the router names it (`resource.canonical`:
`/restaurant/{restaurant_id}/item`, without the `:\\d+` pattern). A route without an entry, or
an entry without a route, fails tests/test_openapi.py. Parameters, bodies and responses are the
marshmallow schemas the handlers validate and dump with, so the document cannot drift from them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from marshmallow import Schema, fields, validate

from userdir.config import Settings
from userdir.handlers.params import MAX_ID
from userdir.schemas.health import HealthOut, ServiceOut
from userdir.schemas.menu import ItemOut, menu_query_schema
from userdir.schemas.users import USERS_QUERY, UserOut

JSON = "application/json"
HTML = "text/html"

# Response header groups; each name is a header component defined in spec.py.
PAGED = ("Link", "X-Total-Count")
CACHED = ("Cache-Control", "X-Cache")  # what cache.cached() adds to every response it serves


@dataclass(frozen=True, slots=True)
class Operation:
    summary: str
    tag: str
    # The success body: a schema (an instance with many=True for a list), a raw JSON Schema
    # mapping, or None for no body (with status=204).
    returns: Schema | Mapping[str, Any] | None
    status: int = 200
    media_type: str = JSON
    # The query string: the schema `load_query` validates it with (or a factory of settings).
    query: Schema | Callable[[Settings], Schema] | None = None
    body: Schema | None = None  # the JSON request body schema (a FooIn / FooPatch)
    # Documented problem+json statuses besides 401, which `auth` adds, and 500, always there.
    errors: tuple[int, ...] = ()
    headers: tuple[str, ...] = ()  # header components sent with the success response
    auth: bool = False  # needs `Authorization: Bearer <token>`
    description: str = ""
    operation_id: str | None = None  # default: the handler's function name
    # Raw OpenAPI merged into the operation last (other media types, a 304, examples...).
    extra: Mapping[str, Any] = field(default_factory=dict)


def _menu_query(settings: Settings) -> Schema:
    return menu_query_schema(settings.max_depth)


# Every `{name}` in a documented path, as the handlers accept it.
PATH_PARAMETERS: dict[str, fields.Field[Any]] = {
    "restaurant_id": fields.Integer(
        validate=validate.Range(1, MAX_ID),
        metadata={"description": "A restaurant's id.", "example": 1},
    ),
    "username": fields.String(
        validate=validate.Length(1, 255),
        metadata={"description": "A GitHub login.", "example": "mojombo"},
    ),
}

OPERATIONS: dict[str, Operation] = {
    "GET /healthz": Operation(
        "Liveness: the service runs and reaches its database",
        tag="service",
        returns=HealthOut(),
        errors=(503,),
    ),
    "GET /restaurant/": Operation(
        "Service name and version",
        tag="service",
        returns=ServiceOut(),
    ),
    "GET /users": Operation(
        "List GitHub users, filtered, ordered and paged",
        tag="users",
        returns=UserOut(many=True),
        query=USERS_QUERY,
        headers=PAGED + CACHED,
        errors=(400,),
        description="Filters match exactly. `Link` names the next and previous pages; "
        "`X-Total-Count` counts every match.",
    ),
    "GET /users/{username}": Operation(
        "One user by login",
        tag="users",
        returns=UserOut(),
        errors=(404,),
    ),
    "GET /restaurant/{restaurant_id}/item": Operation(
        "A restaurant's menu: every item with its modifiers nested",
        tag="menus",
        returns=ItemOut(many=True),
        query=_menu_query,
        headers=CACHED,
        errors=(400, 404),
        description="Nesting stops at `depth` levels or where a modifier would repeat an item "
        "above it (a cycle); such items say `truncated: true`.",
    ),
    "GET /openapi.json": Operation(
        "This OpenAPI document",
        tag="documentation",
        returns={"type": "object"},
    ),
    "GET /docs": Operation(
        "Interactive documentation of this API",
        tag="documentation",
        returns={"type": "string"},
        media_type=HTML,
    ),
}
