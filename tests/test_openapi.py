from __future__ import annotations

import logging
import re
from typing import Any

import orjson
import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import Schema, ValidationError, fields
from openapi_spec_validator import validate

from tests.helpers import AppClient
from tests.menu_api import new_items, new_restaurant, write
from userdir.app import create_app
from userdir.config import Settings
from userdir.cursor import derive_secret, encode_cursor
from userdir.directory import USER_FIELDS
from userdir.openapi.operations import OPERATIONS, Operation
from userdir.openapi.spec import build_spec, coverage_gaps
from userdir.schemas.menu import FLAT_MENU_OUT, LINK_OUT, RESTAURANTS_QUERY
from userdir.schemas.menu_in import (
    FLAT_MENU_IN,
    ITEM_IN,
    ITEM_PATCH,
    LINK_IN,
    NESTED_MENU_IN,
    RESTAURANT_IN,
    RESTAURANT_PATCH,
)
from userdir.schemas.users import USERS_QUERY

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def routed(app: web.Application) -> set[tuple[str, str]]:
    """(METHOD, path) of every route of the app's router but HEAD and static files."""
    return {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None
        and route.method != "HEAD"
        and not isinstance(route.resource, web.StaticResource)
    }


def documented(spec: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in METHODS
    }


def operations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [op for item in spec["paths"].values() for m, op in item.items() if m in METHODS]


DOCUMENT = build_spec(create_app(Settings()))


@pytest.fixture
def spec() -> dict[str, Any]:
    return build_spec(create_app(Settings()))


async def test_served_document_is_valid_openapi_and_the_one_built(client: AppClient) -> None:
    async with client.get("/openapi.json") as response:
        assert response.status == 200
        assert response.content_type == "application/json"
        served = orjson.loads(await response.read())
    validate(served)
    assert served["openapi"].startswith("3.")
    assert served == orjson.loads(orjson.dumps(build_spec(client.app)))


def test_every_route_is_documented_and_nothing_else(spec: dict[str, Any]) -> None:
    app = create_app(Settings())
    assert documented(spec) == routed(app)
    assert coverage_gaps(app) == ([], [])
    # Static files (the page's CSS and JS, the docs' assets) are routed but not API.
    static = {
        r.resource.canonical
        for r in app.router.routes()
        if isinstance(r.resource, web.StaticResource)
    }
    assert static == {"/static", "/docs/assets"}
    assert not [path for path in spec["paths"] if path.startswith(tuple(static))]


def test_operation_ids_are_unique_for_client_generators(spec: dict[str, Any]) -> None:
    ids = [op["operationId"] for op in operations(spec)]
    assert all(ids) and len(ids) == len(set(ids)), ids


def test_query_parameters_are_the_validating_schemas_fields(spec: dict[str, Any]) -> None:
    settings = Settings()
    for key, op in OPERATIONS.items():
        method, path = key.split(" ", 1)
        params = spec["paths"][path][method.lower()].get("parameters", [])
        in_query = {p["name"] for p in params if p.get("in") == "query"}
        if op.query is None:
            assert in_query == set(), key
            continue
        schema = op.query if isinstance(op.query, Schema) else op.query(settings)
        loadable = {f.data_key or n for n, f in schema.fields.items() if not f.dump_only}
        assert in_query == loadable, key
    users = {p["name"]: p["schema"] for p in query_parameters(spec)}
    assert set(users) == set(USERS_QUERY.fields)
    assert users["username"]["pattern"] == "^[^\\x00]*$"  # the no_nul validator, documented
    order_by = users["order_by"]
    assert order_by["type"] == "string" and order_by["default"] == "id"
    for good in ("-type,username", "id", "-id", "image_url,-profile_url,username,type,id"):
        assert re.search(order_by["pattern"], good), good
    for bad in ("name", "", "type,", "type,-type", "--type", "type, username", "id,name"):
        assert not re.search(order_by["pattern"], bad), bad


def query_parameters(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in spec["paths"]["/users"]["get"]["parameters"] if p.get("in") == "query"]


def accepts_order_by(value: str) -> bool:
    try:
        USERS_QUERY.load({"order_by": value})
    except ValidationError:
        return False
    return True


TERMS = st.sampled_from([*USER_FIELDS, "name", "ID", "", " id", "-"])


@settings(max_examples=300, deadline=None)
@given(terms=st.lists(st.tuples(st.booleans(), TERMS), min_size=1, max_size=6))
def test_order_by_pattern_accepts_exactly_what_the_server_does(
    terms: list[tuple[bool, str]],
) -> None:
    # The fuzz sends values matching the pattern and expects them accepted, and values
    # breaking it and expects a 400: the two must agree on every list of terms.
    value = ",".join(("-" if descending else "") + name for descending, name in terms)
    pattern = {p["name"]: p["schema"] for p in query_parameters(DOCUMENT)}["order_by"]["pattern"]
    assert bool(re.search(pattern, value)) == accepts_order_by(value), value


def test_cursors_and_lists_are_described_as_sent(spec: dict[str, Any]) -> None:
    params = {p["name"]: p for p in query_parameters(spec)}
    cursor = encode_cursor(derive_secret("", "sqlite://"), b"query", ["Bot", 'u\u00fc"', 7])
    for name in ("after", "before"):
        assert re.search(params[name]["schema"]["pattern"], cursor), name
        assert not re.search(params[name]["schema"]["pattern"], "0"), name
        assert "opaque" in params[name]["description"]
    # `id__in=1,2,3`: an array serialized with commas, as CommaList reads it.
    id_in = params["id__in"]
    assert (id_in["style"], id_in["explode"]) == ("form", False)
    assert id_in["schema"]["type"] == "array" and id_in["schema"]["maxItems"] == 100
    assert id_in["schema"]["items"]["type"] == "integer"
    assert params["username__in"]["schema"]["items"]["pattern"] == "^[^\\x00]*$"


def test_menu_depth_bound_follows_the_settings() -> None:
    spec = build_spec(create_app(Settings(max_depth=3)))
    for path in ("/restaurant/{restaurant_id}/item", "/restaurant/{restaurant_id}/item/{item_id}"):
        query = {
            p["name"]: p["schema"]
            for p in spec["paths"][path]["get"]["parameters"]
            if p.get("in") == "query"
        }
        assert set(query) == {"depth", "format"}, path
        assert query["depth"]["maximum"] == 3 and query["depth"]["default"] == 3
        assert query["format"]["enum"] == ["nested", "flat"]


def test_errors_are_problem_json_and_headers_are_declared(spec: dict[str, Any]) -> None:
    users = spec["paths"]["/users"]["get"]["responses"]
    assert set(users) == {"200", "304", "400", "429", "500", "503"}
    for status in ("429", "503"):  # RATE_LIMIT; a database outage or REQUEST_TIMEOUT
        assert set(users[status]["headers"]) == {"X-Request-ID", "Retry-After"}
    # Liveness touches nothing that could refuse it.
    assert set(spec["paths"]["/livez"]["get"]["responses"]) == {"200", "500"}
    assert users["400"]["content"] == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/ProblemOut"}},
        "text/html": {"schema": {"type": "string"}},  # the readable page a browser gets
    }
    assert set(users["200"]["content"]) == {"application/json", "text/csv", "text/html"}
    headers = users["200"]["headers"]
    assert set(headers) == {
        "X-Request-ID",
        "Link",
        "X-Total-Count",
        "X-Total-Count-Kind",
        "Cache-Control",
        "Vary",
        "X-Cache",
        "ETag",
        "Content-Disposition",
    }
    # A CSV export is streamed and never cached: it has no ETag and no X-Cache.
    assert headers["ETag"]["required"] is False and headers["X-Cache"]["required"] is False
    assert users["304"] == {"$ref": "#/components/responses/NotModified"}
    assert {"$ref": "#/components/parameters/IfNoneMatch"} in spec["paths"]["/users"]["get"][
        "parameters"
    ]
    # The menu is always cached JSON: there they are required.
    menu = spec["paths"]["/restaurant/{restaurant_id}/item"]["get"]["responses"]
    assert set(menu) == {"200", "304", "400", "404", "429", "500", "503"}
    for name in ("ETag", "X-Cache", "Cache-Control"):
        ref = menu["200"]["headers"][name]["$ref"]
        assert spec["components"]["headers"][ref.rsplit("/", 1)[1]]["required"] is True
    problem = spec["components"]["schemas"]["ProblemOut"]
    assert set(problem["required"]) == {
        "type",
        "title",
        "status",
        "detail",
        "instance",
        "request_id",
        "errors",
    }
    item = spec["components"]["schemas"]["ItemOut"]
    assert item["properties"]["modifiers"]["items"] == {"$ref": "#/components/schemas/ItemOut"}
    # Every field always present, but the link: a top-level item has none.
    assert set(item["required"]) == set(item["properties"]) - {"link"}
    assert item["additionalProperties"] is False
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


class WidgetIn(Schema):
    name = fields.String(required=True)


class WidgetOut(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(dump_only=True)


async def create_widget(request: web.Request) -> web.Response:
    raise NotImplementedError


async def list_widgets(request: web.Request) -> web.Response:
    raise NotImplementedError


async def remove_widget(request: web.Request) -> web.Response:
    raise NotImplementedError


class WidgetsQuery(Schema):
    name = fields.String()


def widget_app() -> web.Application:
    app = create_app(Settings())
    app.router.add_get("/widgets", list_widgets)
    app.router.add_post("/widgets", create_widget)
    app.router.add_delete(r"/widgets/{restaurant_id:\d+}", remove_widget)
    return app


def test_writes_document_their_body_and_bearer_auth() -> None:
    table = {
        **OPERATIONS,
        "POST /widgets": Operation(
            "Create a widget",
            tag="widgets",
            returns=WidgetOut(),
            status=201,
            body=WidgetIn(),
            errors=(400, 409),
            auth=True,
        ),
        "GET /widgets": Operation(
            "List widgets",
            tag="widgets",
            returns=WidgetOut(many=True),
            query=WidgetsQuery(),
            extra={
                "parameters": ["IfNoneMatch"],  # component names become $refs
                "responses": {
                    "200": {"content": {"text/csv": {"schema": {"type": "string"}}}},
                    "304": "NotModified",
                },
            },
        ),
        "DELETE /widgets/{restaurant_id}": Operation(
            "Remove a widget", tag="widgets", returns=None, status=204, errors=(404,), auth=True
        ),
    }
    spec = build_spec(widget_app(), table)
    validate(spec)
    post = spec["paths"]["/widgets"]["post"]
    assert post["operationId"] == "create_widget"
    assert post["security"] == [{"bearerAuth": []}]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/WidgetIn"
    }
    assert set(post["responses"]) == {"201", "400", "401", "403", "409", "429", "500", "503"}
    delete = spec["paths"]["/widgets/{restaurant_id}"]["delete"]
    assert "content" not in delete["responses"]["204"]
    assert delete["parameters"][0]["schema"]["type"] == "integer"
    listing = spec["paths"]["/widgets"]["get"]
    assert "security" not in listing
    assert listing["parameters"] == [
        {"in": "query", "name": "name", "schema": {"type": "string"}, "required": False},
        {"$ref": "#/components/parameters/IfNoneMatch"},
    ]
    assert set(listing["responses"]["200"]["content"]) == {"application/json", "text/csv"}
    assert set(listing["responses"]) == {"200", "304", "429", "500", "503"}
    # Building leaves the table as it was (apispec rewrites what it is given in place).
    assert table["GET /widgets"].extra == {
        "parameters": ["IfNoneMatch"],
        "responses": {
            "200": {"content": {"text/csv": {"schema": {"type": "string"}}}},
            "304": "NotModified",
        },
    }
    assert build_spec(widget_app(), table) == spec


def test_an_undocumented_route_is_reported_and_left_out(caplog: pytest.LogCaptureFixture) -> None:
    app = widget_app()
    with caplog.at_level(logging.WARNING, logger="userdir.openapi.spec"):
        spec = build_spec(app)
    assert coverage_gaps(app) == (
        ["DELETE /widgets/{restaurant_id}", "GET /widgets", "POST /widgets"],
        [],
    )
    assert "/widgets" not in spec["paths"]
    assert "POST /widgets" in caplog.text
    stale = {**OPERATIONS, "GET /gone": Operation("Gone", tag="x", returns=None)}
    assert coverage_gaps(create_app(Settings()), stale) == ([], ["GET /gone"])


def test_an_undeclared_path_parameter_names_the_fix() -> None:
    app = create_app(Settings())
    app.router.add_get("/things/{thing_id}", create_widget)
    table = {**OPERATIONS, "GET /things/{thing_id}": Operation("A thing", tag="x", returns=None)}
    with pytest.raises(LookupError, match="thing_id.*PATH_PARAMETERS"):
        build_spec(app, table)


async def test_docs_page_and_its_assets_load_offline(client: AppClient) -> None:
    async with client.get("/docs") as response:
        assert response.status == 200
        assert response.content_type == "text/html"
        page = await response.text()
    assert "SwaggerUIBundle" in page and '"/openapi.json"' in page
    # Offline: nothing is fetched from another host.
    assert not re.search(r"""(?:src|href)=["']?(?:https?:)?//""", page)
    assets = re.findall(r"""(?:src|href)="([^"]+)\"""", page)
    kinds = {"css": "text/css", "js": "javascript", "png": "image/png"}
    assert {a.rsplit(".", 1)[1] for a in assets} == set(kinds)
    for asset in assets:
        assert asset.startswith("/docs/assets/")
        async with client.get(asset) as response:
            assert response.status == 200, asset
            assert kinds[asset.rsplit(".", 1)[1]] in response.content_type, asset
            assert len(await response.read()) > 500, asset
    async with client.get("/docs/assets/no-such-file.js") as response:
        assert response.status == 404


WRITES = {
    # operation -> (the schema its handler loads the body with, success statuses)
    "POST /restaurant": (RESTAURANT_IN, {"201"}),
    "PATCH /restaurant/{restaurant_id}": (RESTAURANT_PATCH, {"200"}),
    "DELETE /restaurant/{restaurant_id}": (None, {"204"}),
    "POST /restaurant/{restaurant_id}/item": (ITEM_IN, {"201"}),
    "PATCH /restaurant/{restaurant_id}/item/{item_id}": (ITEM_PATCH, {"200"}),
    "DELETE /restaurant/{restaurant_id}/item/{item_id}": (None, {"204"}),
    "PUT /restaurant/{restaurant_id}/item/{item_id}/modifiers/{modifier_id}": (
        LINK_IN,
        {"200", "201"},
    ),
    "DELETE /restaurant/{restaurant_id}/item/{item_id}/modifiers/{modifier_id}": (None, {"204"}),
}


def operation(spec: dict[str, Any], key: str) -> dict[str, Any]:
    method, path = key.split(" ", 1)
    op: dict[str, Any] = spec["paths"][path][method.lower()]
    return op


def ref(schema: Schema) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{type(schema).__name__}"}


@pytest.mark.parametrize("key", sorted(WRITES))
def test_menu_writes_document_body_auth_and_errors(spec: dict[str, Any], key: str) -> None:
    body, successes = WRITES[key]
    op = operation(spec, key)
    assert op["security"] == [{"bearerAuth": []}]
    responses = op["responses"]
    assert successes | {"401", "403", "500"} <= set(responses)
    assert ("404" in responses) == ("{" in key)  # an id in the path may name nothing
    # Missing token: 401 saying how to authenticate.
    assert "WWW-Authenticate" in responses["401"]["headers"]
    if body is None:
        assert "requestBody" not in op and set(responses) & {"400", "413", "415", "422"} == set()
        assert "content" not in responses["204"]
        return
    # The very schema the handler validates with, and every way a body can be refused.
    assert op["requestBody"]["content"] == {"application/json": {"schema": ref(body)}}
    assert {"400", "413", "415", "422"} <= set(responses)
    if "201" in successes:
        location = responses["201"]["headers"]["Location"]
        assert location.get("required", True) == ("200" not in successes)


def test_menu_documents_both_shapes_and_the_whole_menu_document(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    nested_or_flat = {"$ref": "#/components/schemas/FlatMenuOut"}
    listing = operation(spec, "GET /restaurant/{restaurant_id}/item")["responses"]["200"]
    assert listing["content"]["application/json"]["schema"]["oneOf"] == [
        {"type": "array", "items": {"$ref": "#/components/schemas/ItemOut"}},
        nested_or_flat,
    ]
    one = operation(spec, "GET /restaurant/{restaurant_id}/item/{item_id}")["responses"]["200"]
    assert one["content"]["application/json"]["schema"]["oneOf"] == [
        {"$ref": "#/components/schemas/ItemOut"},
        nested_or_flat,
    ]
    assert set(schemas["FlatMenuOut"]["properties"]) == set(FLAT_MENU_OUT.fields)
    assert set(schemas["LinkOut"]["properties"]) == set(LINK_OUT.fields)
    menu = operation(spec, "PUT /restaurant/{restaurant_id}/menu")
    assert menu["security"] == [{"bearerAuth": []}]
    assert menu["requestBody"]["content"]["application/json"]["schema"] == {
        "anyOf": [ref(FLAT_MENU_IN), ref(NESTED_MENU_IN)]
    }
    assert {"200", "401", "403", "404", "409", "422"} <= set(menu["responses"])
    # A nested document nests its modifiers, which alone take a link (a top-level item links
    # to nothing above it: the document says so, not only a 422); a flat one requires its
    # items' keys.
    top, modifier = schemas["NodeIn"]["properties"], schemas["ModifierNodeIn"]["properties"]
    nests = {"$ref": "#/components/schemas/ModifierNodeIn"}
    assert top["modifiers"]["items"] == modifier["modifiers"]["items"] == nests
    assert "link" not in top and modifier["link"] == {"$ref": "#/components/schemas/LinkIn"}
    assert "key" in schemas["FlatItemIn"]["required"]
    assert {"item", "modifier"} <= set(schemas["FlatLinkIn"]["required"])
    # Field rules as the server checks them, in patterns any client can run.
    currency = schemas["ItemIn"]["properties"]["currency"]
    assert (currency["pattern"], currency["maxLength"], currency["default"]) == (
        "^[A-Z]{3}$",
        3,
        "USD",
    )
    assert schemas["ItemIn"]["properties"]["available"]["type"] == "boolean"
    assert schemas["ItemIn"]["required"] == ["name"]
    # The error entries of a 422 name the body field; those of a 409 the offending path.
    entry = schemas["ProblemErrorOut"]["properties"]
    assert {"field", "path", "parameter", "detail"} <= set(entry)
    restaurants = operation(spec, "GET /restaurant")
    assert {p["name"] for p in restaurants["parameters"] if p.get("in") == "query"} == set(
        RESTAURANTS_QUERY.fields
    )
    assert {"Link", "X-Total-Count", "ETag"} <= set(restaurants["responses"]["200"]["headers"])


async def test_a_422_and_a_409_match_the_documented_error_entries(client: AppClient) -> None:
    entry = Schema.from_dict(
        {"field": fields.String(required=True), "detail": fields.String(required=True)}
    )
    rid = await new_restaurant(client)
    problem = await write(client, "POST", f"/restaurant/{rid}/item", {}, expected_status=422)
    assert problem["errors"] == [{"field": "name", "detail": "Missing data for required field."}]
    entry().load(problem["errors"][0])
    a, b = await new_items(client, rid, "a", "b")
    await write(client, "PUT", f"/restaurant/{rid}/item/{a}/modifiers/{b}", expected_status=201)
    path = f"/restaurant/{rid}/item/{b}/modifiers/{a}"
    problem = await write(client, "PUT", path, expected_status=409)
    (error,) = problem["errors"]
    assert error["field"] == "modifier_id" and error["path"][0] == error["path"][-1]
