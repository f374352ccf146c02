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
from userdir.parse import MAX_ID
from userdir.schemas.health import LiveOut, ReadyOut, ServiceOut
from userdir.schemas.menu import (
    RESTAURANTS_QUERY,
    FlatMenuOut,
    ItemFieldsOut,
    ItemOut,
    LinkOut,
    RestaurantDetailOut,
    RestaurantOut,
    menu_query_schema,
)
from userdir.schemas.menu_in import (
    FlatMenuIn,
    ItemIn,
    ItemPatch,
    LinkIn,
    NestedMenuIn,
    RestaurantIn,
    RestaurantPatch,
)
from userdir.schemas.users import USERS_QUERY, UserOut

JSON = "application/json"
HTML = "text/html"
CSV = "text/csv"

# Response header groups; each name is a header component defined in spec.py.
PAGED = ("Link", "X-Total-Count", "X-Total-Count-Kind")
# What cache.cached() adds to every success response it serves.
CACHED = ("Cache-Control", "Vary", "X-Cache", "ETag")
# cache.cached() answers If-None-Match with a 304 (no body) when the ETag still holds.
CONDITIONAL: Mapping[str, object] = {
    "parameters": ["IfNoneMatch"],
    "responses": {"304": "NotModified"},
}
# What every JSON body write may answer besides its own errors: no body or broken JSON (400),
# a body too large to read (413), a body that is not JSON (415), fields that fail validation
# (422, one entry per field).
BODY_ERRORS = (400, 413, 415, 422)


@dataclass(frozen=True, slots=True)
class Operation:
    summary: str
    tag: str
    # The success body: a schema (an instance with many=True for a list), a raw JSON Schema
    # mapping, or None for no body (with status=204).
    returns: Schema | Mapping[str, object] | None
    status: int = 200
    # Further success statuses answered with the same body and headers (a PUT that creates).
    also: tuple[int, ...] = ()
    media_type: str = JSON
    # The query string: the schema `load_query` validates it with (or a factory of settings).
    query: Schema | Callable[[Settings], Schema] | None = None
    # The JSON request body: its schema (a FooIn / FooPatch) or a raw JSON Schema mapping whose
    # values may be schemas ({"anyOf": [AIn(), BIn()]}).
    body: Schema | Mapping[str, object] | None = None
    body_required: bool = True
    # Documented problem+json statuses besides 401 and 403, which `auth` adds, and 500,
    # always there.
    errors: tuple[int, ...] = ()
    headers: tuple[str, ...] = ()  # header components sent with the success response
    # Those of `headers` that some representations of the success omit (a streamed CSV is
    # never cached, so it has no ETag): documented as not required.
    sometimes: tuple[str, ...] = ()
    auth: bool = False  # needs `Authorization: Bearer <token>`
    # 429 (RATE_LIMIT) and 503 (database down, REQUEST_TIMEOUT) may answer it; not the probes
    # that never touch the database (liveness) or are never limited.
    may_be_refused: bool = True
    description: str = ""
    operation_id: str | None = None  # default: the handler's function name
    # Raw OpenAPI merged into the operation last (other media types, a 304, examples...).
    extra: Mapping[str, object] = field(default_factory=dict)


# A menu read answers in the shape `format` asks for.
MENU_OUT: Mapping[str, object] = {"oneOf": [ItemOut(many=True), FlatMenuOut()]}
ITEM_TREE_OUT: Mapping[str, object] = {"oneOf": [ItemOut(), FlatMenuOut()]}


def _menu_query(settings: Settings) -> Schema:
    return menu_query_schema(settings.max_depth)


# Every `{name}` in a documented path, as the handlers accept it.
PATH_PARAMETERS: dict[str, fields.Field[Any]] = {
    "restaurant_id": fields.Integer(
        validate=validate.Range(1, MAX_ID),
        metadata={"description": "A restaurant's id.", "example": 1},
    ),
    "item_id": fields.Integer(
        validate=validate.Range(1, MAX_ID),
        metadata={"description": "An item's id, in this restaurant.", "example": 1},
    ),
    "modifier_id": fields.Integer(
        validate=validate.Range(1, MAX_ID),
        metadata={"description": "The id of the item linked as a modifier.", "example": 3},
    ),
    "username": fields.String(
        validate=validate.Length(1, 255),
        metadata={"description": "A GitHub login.", "example": "mojombo"},
    ),
}

OPERATIONS: dict[str, Operation] = {
    "GET /livez": Operation(
        "Liveness: the process serves requests (touches neither database nor cache)",
        tag="service",
        returns=LiveOut(),
        may_be_refused=False,
    ),
    "GET /readyz": Operation(
        "Readiness: the primary database answers; the cache, replicas and change channel "
        "are reported (a degraded cache is still ready)",
        tag="service",
        returns=ReadyOut(),
        errors=(503,),
    ),
    "GET /healthz": Operation(
        "The same as /readyz (kept for existing probes)",
        tag="service",
        returns=ReadyOut(),
        errors=(503,),
        operation_id="healthz",
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
        headers=(*PAGED, *CACHED, "Content-Disposition"),
        sometimes=("X-Cache", "ETag", "Content-Disposition"),
        errors=(400,),
        description="`field=value` filters by equality, `field__op=value` with an operator "
        "(`ne`, `gt`, `gte`, `lt`, `lte`, `in` with comma-separated values; on text fields also "
        "`contains`, `icontains`, `startswith`). `order_by` lists fields, `-` for descending; "
        "id always breaks ties. Page by `page_number` or by the opaque `after`/`before` cursors "
        "of the `Link` header. `count` chooses how `X-Total-Count` is computed. The rows come as "
        "JSON, as a streamed CSV export of every match (`format=csv` or `Accept: text/csv`; "
        "paging does not apply, nor caching) or as an HTML page (`format=html` or "
        "`Accept: text/html`).",
        extra={
            **CONDITIONAL,
            "responses": {
                "200": {
                    "content": {
                        CSV: {"schema": {"type": "string"}},
                        HTML: {"schema": {"type": "string"}},
                    }
                },
                "304": "NotModified",
            },
        },
    ),
    "GET /users/{username}": Operation(
        "One user by login",
        tag="users",
        returns=UserOut(),
        errors=(404,),
    ),
    "GET /restaurant": Operation(
        "List restaurants, a page at a time",
        tag="menus",
        returns=RestaurantOut(many=True),
        query=RESTAURANTS_QUERY,
        headers=("Link", "X-Total-Count", *CACHED),
        errors=(400,),
        extra=CONDITIONAL,
        description="`Link` names the next and previous pages (`page_number`) where they exist.",
    ),
    "POST /restaurant": Operation(
        "Create a restaurant, with an empty menu",
        tag="menus",
        returns=RestaurantOut(),
        status=201,
        body=RestaurantIn(),
        headers=("Location",),
        errors=BODY_ERRORS,
        auth=True,
    ),
    "GET /restaurant/{restaurant_id}": Operation(
        "One restaurant, with how many items and links its menu has",
        tag="menus",
        returns=RestaurantDetailOut(),
        headers=CACHED,
        errors=(404,),
        extra=CONDITIONAL,
    ),
    "PATCH /restaurant/{restaurant_id}": Operation(
        "Rename a restaurant",
        tag="menus",
        returns=RestaurantOut(),
        body=RestaurantPatch(),
        errors=(*BODY_ERRORS, 404),
        auth=True,
    ),
    "DELETE /restaurant/{restaurant_id}": Operation(
        "Delete a restaurant and its whole menu",
        tag="menus",
        returns=None,
        status=204,
        errors=(404,),
        auth=True,
    ),
    "GET /restaurant/{restaurant_id}/item": Operation(
        "A restaurant's menu: every item with its modifiers nested, or flat",
        tag="menus",
        returns=MENU_OUT,
        query=_menu_query,
        headers=CACHED,
        errors=(400, 404),
        extra=CONDITIONAL,
        description="Nested (the default): an array of every item, its modifiers nested under "
        "it. Nesting stops at `depth` levels or where a modifier would repeat an item above it "
        "(a cycle); such items say `truncated: true`. A nested response larger than the "
        "server's limit is a 400 naming the depths that fit. `format=flat`: an object with "
        "each item once and the list of links.",
    ),
    "POST /restaurant/{restaurant_id}/item": Operation(
        "Add an item to a restaurant's menu",
        tag="menus",
        returns=ItemFieldsOut(),
        status=201,
        body=ItemIn(),
        headers=("Location",),
        errors=(*BODY_ERRORS, 404),
        auth=True,
    ),
    "PUT /restaurant/{restaurant_id}/menu": Operation(
        "Replace a restaurant's whole menu from one document, atomically",
        tag="menus",
        returns=FlatMenuOut(),
        body={"anyOf": [FlatMenuIn(), NestedMenuIn()]},
        errors=(*BODY_ERRORS, 404, 409),
        auth=True,
        description="A document with `links` is flat: items named by their `key`, links "
        "between keys. Otherwise it is nested: each item's modifiers under it, an item keyed by "
        "its name unless it gives a `key`, and a node with only a `key` naming an item defined "
        "elsewhere in the document. Keys must be unique and every reference defined (422); the "
        "links must form no cycle and stay within the maximum depth (409, naming the path). "
        "Nothing changes unless the whole document is valid. The answer is the new menu, flat.",
    ),
    "GET /restaurant/{restaurant_id}/item/{item_id}": Operation(
        "One item and what lies below it, nested or flat",
        tag="menus",
        returns=ITEM_TREE_OUT,
        query=_menu_query,
        headers=CACHED,
        errors=(400, 404),
        extra=CONDITIONAL,
        description="Nested (the default): the item with its modifiers nested `depth` levels. "
        "`format=flat`: the items of its whole subtree, each once, and their links.",
    ),
    "PATCH /restaurant/{restaurant_id}/item/{item_id}": Operation(
        "Change some of an item's fields",
        tag="menus",
        returns=ItemFieldsOut(),
        body=ItemPatch(),
        errors=(*BODY_ERRORS, 404),
        auth=True,
    ),
    "DELETE /restaurant/{restaurant_id}/item/{item_id}": Operation(
        "Delete an item and its links, both ways",
        tag="menus",
        returns=None,
        status=204,
        errors=(404,),
        auth=True,
    ),
    "PUT /restaurant/{restaurant_id}/item/{item_id}/modifiers/{modifier_id}": Operation(
        "Link a modifier under an item, or change the link's attributes",
        tag="menus",
        returns=LinkOut(),
        also=(201,),
        body=LinkIn(),
        body_required=False,
        headers=("Location",),
        sometimes=("Location",),
        errors=(*BODY_ERRORS, 404, 409),
        auth=True,
        description="201 with `Location` when the link is new, 200 when it existed. Omitted "
        "attributes take their defaults; `position` omitted keeps the link's place, or puts a "
        "new link last. `max_select` must be at least `min_select` (422). The modifier must "
        "belong to the same restaurant, differ from the item, and close no cycle nor exceed "
        "the maximum depth (409, naming the path).",
    ),
    "DELETE /restaurant/{restaurant_id}/item/{item_id}/modifiers/{modifier_id}": Operation(
        "Unlink a modifier from an item",
        tag="menus",
        returns=None,
        status=204,
        errors=(404,),
        auth=True,
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
