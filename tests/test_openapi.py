from __future__ import annotations

import logging
import re
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from marshmallow import Schema, fields
from openapi_spec_validator import validate

from userdir.app import create_app
from userdir.config import Settings
from userdir.openapi.operations import OPERATIONS, Operation
from userdir.openapi.spec import build_spec, coverage_gaps
from userdir.schemas.users import USER_FIELDS, USERS_QUERY

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


@pytest.fixture
def spec() -> dict[str, Any]:
    return build_spec(create_app(Settings()))


async def test_served_document_is_valid_openapi_and_the_one_built(client: TestClient) -> None:
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


def test_operation_ids_are_unique_for_client_generators(spec: dict[str, Any]) -> None:
    ids = [op["operationId"] for op in operations(spec)]
    assert all(ids) and len(ids) == len(set(ids)), ids


def test_query_parameters_are_the_validating_schemas_fields(spec: dict[str, Any]) -> None:
    settings = Settings()
    for key, op in OPERATIONS.items():
        method, path = key.split(" ", 1)
        params = spec["paths"][path][method.lower()].get("parameters", [])
        in_query = {p["name"] for p in params if p["in"] == "query"}
        if op.query is None:
            assert in_query == set(), key
            continue
        schema = op.query if isinstance(op.query, Schema) else op.query(settings)
        loadable = {f.data_key or n for n, f in schema.fields.items() if not f.dump_only}
        assert in_query == loadable, key
    users = {p["name"]: p["schema"] for p in spec["paths"]["/users"]["get"]["parameters"]}
    assert set(users) == set(USERS_QUERY.fields)
    assert users["order_by"]["enum"] == list(USER_FIELDS)
    assert users["username"]["pattern"] == "^[^\\x00]*$"  # the no_nul validator, documented


def test_menu_depth_bound_follows_the_settings() -> None:
    spec = build_spec(create_app(Settings(max_depth=3)))
    (depth,) = spec["paths"]["/restaurant/{restaurant_id}/item"]["get"]["parameters"][1:]
    assert depth["name"] == "depth"
    assert depth["schema"]["maximum"] == 3 and depth["schema"]["default"] == 3


def test_errors_are_problem_json_and_headers_are_declared(spec: dict[str, Any]) -> None:
    users = spec["paths"]["/users"]["get"]["responses"]
    assert set(users) == {"200", "400", "500"}
    assert users["400"]["content"] == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/ProblemOut"}}
    }
    assert set(users["200"]["headers"]) == {
        "X-Request-ID",
        "Link",
        "X-Total-Count",
        "Cache-Control",
        "X-Cache",
    }
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
    assert set(item["required"]) == set(item["properties"])  # every field always present
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
    assert set(post["responses"]) == {"201", "400", "401", "409", "500"}
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
    assert set(listing["responses"]) == {"200", "304", "500"}
    # Building leaves the table as it was (apispec rewrites what it is given in place).
    assert table["GET /widgets"].extra["responses"]["304"] == "NotModified"
    assert table["GET /widgets"].extra["parameters"] == ["IfNoneMatch"]
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


async def test_docs_page_and_its_assets_load_offline(client: TestClient) -> None:
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
