"""The OpenAPI document, built once per app from its router, operations.py and the schemas."""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator, Mapping
from http import HTTPStatus
from typing import Any, TypeAlias

import orjson
from aiohttp import web
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.common import get_fields
from apispec.ext.marshmallow.openapi import OpenAPIConverter
from marshmallow import Schema, fields

from userdir import __version__
from userdir.errors import PROBLEM_JSON, REQUEST_ID_HEADER
from userdir.keys import OPENAPI, SETTINGS
from userdir.openapi.operations import HTML, OPERATIONS, PATH_PARAMETERS, Operation
from userdir.schemas.problem import ProblemOut
from userdir.schemas.query import no_nul
from userdir.schemas.users import MAX_IN_VALUES, CommaList

log = logging.getLogger(__name__)

OPENAPI_VERSION = "3.0.3"  # what the bundled Swagger UI renders
BEARER = "bearerAuth"

# An object of the document as it is built: JSON, where a marshmallow schema (an instance or a
# class) may stand for a JSON Schema; apispec replaces those with definitions or references.
SpecObject: TypeAlias = dict[str, object]

HEADERS: dict[str, SpecObject] = {
    REQUEST_ID_HEADER: {
        "description": "Identifies the request in the logs; a well-formed client value "
        "([A-Za-z0-9._-]{1,64}) is echoed back.",
        "schema": {"type": "string"},
        "required": True,
    },
    "Link": {
        "description": 'RFC 8288 links to the neighbouring pages, rel="next" and rel="prev", '
        'where they exist; on /users also rel="first".',
        "schema": {"type": "string"},
    },
    "X-Total-Count": {
        "description": "How many rows match the filters, over all pages (not sent with "
        "count=none, nor with a CSV export).",
        "schema": {"type": "integer", "minimum": 0},
    },
    "X-Total-Count-Kind": {
        "description": "Whether X-Total-Count is an exact count or the planner's estimate; "
        "sent with it.",
        "schema": {"type": "string", "enum": ["exact", "estimated"]},
    },
    "Cache-Control": {
        "description": "How long the response may be reused (`no-cache` when caching is off, "
        "`no-store` for a CSV export).",
        "schema": {"type": "string"},
        "required": True,
    },
    "X-Cache": {
        "description": "Whether the service answered from its response cache: HIT, MISS, or "
        "BYPASS while the cache is unavailable (the answer then comes from the database).",
        "schema": {"type": "string", "enum": ["HIT", "MISS", "BYPASS"]},
        "required": True,
    },
    "ETag": {
        "description": "A strong validator of the representation, for `If-None-Match`.",
        "schema": {"type": "string", "pattern": '^"[^"]*"$'},
        "required": True,
    },
    "Vary": {
        "description": "The representation depends on the Accept header, and its coding on "
        "Accept-Encoding (gzip is sent to clients that accept it).",
        "schema": {"type": "string"},
        "required": True,
    },
    "Location": {
        "description": "The URL of the resource the request created.",
        "schema": {"type": "string"},
        "required": True,
    },
    "WWW-Authenticate": {
        "description": 'The scheme to authenticate with: `Bearer realm="userdir"`.',
        "schema": {"type": "string"},
        "required": True,
    },
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 1},
        "required": True,
    },
    "Content-Disposition": {
        "description": 'A CSV export is an attachment: `attachment; filename="users.csv"`.',
        "schema": {"type": "string"},
    },
}


class ResponseConverter(OpenAPIConverter):
    """Output schemas (every field `dump_only`) list every field as required: responses always
    carry all of them, except fields marked `metadata={"optional": True}`."""

    def schema2jsonschema(self, schema: Schema | type[Schema]) -> SpecObject:
        jsonschema: SpecObject = super().schema2jsonschema(schema)  # type: ignore[no-untyped-call]
        declared = get_fields(schema)
        if declared and all(f.dump_only for f in declared.values()):
            jsonschema["required"] = sorted(
                f.data_key or name for name, f in declared.items() if not f.metadata.get("optional")
            )
        return jsonschema


class Plugin(MarshmallowPlugin):
    Converter = ResponseConverter


def nul_free(
    converter: OpenAPIConverter, field: fields.Field[object], **kwargs: object
) -> SpecObject:
    """Say in the document what the `no_nul` validator enforces, unless an explicit (stricter)
    pattern in the field's metadata says it already."""
    if no_nul in field.validators and "pattern" not in field.metadata:
        return {"pattern": "^[^\\x00]*$"}
    return {}


def comma_list(
    converter: OpenAPIConverter, field: fields.Field[object], **kwargs: object
) -> SpecObject:
    """A `CommaList` is an array serialized `a,b,c` (see `comma_list_style`)."""
    if not isinstance(field, CommaList):
        return {}
    items: SpecObject = converter.field2property(field.inner)
    return {"type": "array", "items": items, "minItems": 1, "maxItems": MAX_IN_VALUES}


def comma_list_style(
    converter: OpenAPIConverter, field: fields.Field[object], **kwargs: object
) -> SpecObject:
    return {"style": "form", "explode": False} if isinstance(field, CommaList) else {}


def documented_routes(app: web.Application) -> Iterator[tuple[str, str, web.AbstractRoute]]:
    """(method, path, route) of every route the document must describe: HEAD mirrors GET,
    and static files are not part of the API."""
    for route in app.router.routes():
        if route.method == "HEAD" or isinstance(route.resource, web.StaticResource):
            continue
        assert route.resource is not None
        yield route.method, route.resource.canonical, route


def coverage_gaps(
    app: web.Application, operations: Mapping[str, Operation] = OPERATIONS
) -> tuple[list[str], list[str]]:
    """Routes without an operation, and operations without a route ("METHOD /path")."""
    routed = {f"{method} {path}" for method, path, _ in documented_routes(app)}
    return sorted(routed - operations.keys()), sorted(operations.keys() - routed)


def _header_refs(names: tuple[str, ...]) -> SpecObject:
    return {name: {"$ref": f"#/components/headers/{name}"} for name in names}


def _problem(status: int) -> SpecObject:
    # A 401 says how to authenticate (RFC 9110 11.6.1); a 429 or 503 when to come back.
    extra = {401: ("WWW-Authenticate",), 429: ("Retry-After",), 503: ("Retry-After",)}
    names = (REQUEST_ID_HEADER, *extra.get(status, ()))
    return {
        "description": HTTPStatus(status).phrase,
        "headers": _header_refs(names),
        # A client that prefers text/html (a browser) gets the problem as a readable page.
        "content": {PROBLEM_JSON: {"schema": ProblemOut}, HTML: {"schema": {"type": "string"}}},
    }


def _path_parameters(key: str, path: str, plugin: Plugin) -> list[SpecObject]:
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    unknown = [name for name in names if name not in PATH_PARAMETERS]
    if unknown:
        raise LookupError(f"{key}: add {unknown} to PATH_PARAMETERS in openapi/operations.py")
    assert plugin.converter is not None
    parameters = []
    for name in names:
        schema: SpecObject = plugin.converter.field2property(PATH_PARAMETERS[name])
        parameter: SpecObject = {"name": name, "in": "path", "required": True, "schema": schema}
        if "description" in schema:
            parameter["description"] = schema.pop("description")
        parameters.append(parameter)
    return parameters


def _copy(value: object) -> object:
    """A copy of the mappings and lists in `value` (apispec rewrites them in place), sharing
    the schemas they hold."""
    if isinstance(value, Mapping):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _merge(base: SpecObject, extra: Mapping[str, object]) -> SpecObject:
    """`extra` into `base`: mappings merge key by key, lists (parameters) are extended."""
    for key, value in extra.items():
        current = base.get(key)
        if isinstance(value, Mapping) and isinstance(current, dict):
            _merge(current, value)
        elif isinstance(value, list) and isinstance(current, list):
            current.extend(value)
        else:
            base[key] = value
    return base


def _operation(
    key: str,
    path: str,
    op: Operation,
    route: web.AbstractRoute,
    app: web.Application,
    plugin: Plugin,
) -> SpecObject:
    headers = _header_refs((REQUEST_ID_HEADER, *op.headers))
    for name in op.sometimes:
        headers[name] = {**HEADERS[name], "required": False}
    responses: SpecObject = {}
    for status in (op.status, *op.also):
        success: SpecObject = {"description": HTTPStatus(status).phrase, "headers": headers}
        if op.returns is not None:
            success["content"] = {op.media_type: {"schema": _copy(op.returns)}}
        responses[str(status)] = _copy(success)
    parameters = _path_parameters(key, path, plugin)
    if op.query is not None:
        query = op.query if isinstance(op.query, Schema) else op.query(app[SETTINGS])
        parameters.append({"in": "query", "schema": query})
    # 500 is never meant to happen (the fuzz fails on any), but clients learn its shape; any
    # request may meet a database that is down or the request timeout (503), or RATE_LIMIT.
    limits = (429, 503) if op.may_be_refused else ()
    statuses = sorted({*op.errors, *((401, 403) if op.auth else ()), *limits, 500})
    responses.update({str(status): _problem(status) for status in statuses})
    operation: SpecObject = {
        "operationId": op.operation_id or getattr(route.handler, "__name__", None),
        "summary": op.summary,
        "tags": [op.tag],
        "responses": responses,
    }
    if parameters:
        operation["parameters"] = parameters
    if op.description:
        operation["description"] = op.description
    if op.body is not None:
        operation["requestBody"] = {
            "required": op.body_required,
            "content": {"application/json": {"schema": _copy(op.body)}},
        }
    if op.auth:
        operation["security"] = [{BEARER: []}]
    return _merge(operation, copy.deepcopy(op.extra))


def build_spec(
    app: web.Application, operations: Mapping[str, Operation] = OPERATIONS
) -> dict[str, Any]:
    """The OpenAPI document of `app`'s routes; undocumented routes are logged and left out."""
    plugin = Plugin()
    spec = APISpec(
        title="userdir",
        version=__version__,
        openapi_version=OPENAPI_VERSION,
        plugins=[plugin],
        info={
            "description": "A GitHub users directory and restaurant menus. Every error is an "
            "RFC 9457 problem (`application/problem+json`) whose `errors` name each bad input. "
            "URLs longer than 8190 bytes are refused by the HTTP server with a plain-text 400.",
        },
    )
    assert plugin.converter is not None
    plugin.converter.add_attribute_function(nul_free)  # type: ignore[no-untyped-call]
    plugin.converter.add_attribute_function(comma_list)  # type: ignore[no-untyped-call]
    plugin.converter.add_parameter_attribute_function(comma_list_style)
    spec.components.schema("ProblemOut", schema=ProblemOut)
    for name, header in HEADERS.items():
        spec.components.header(name, header)
    # Ready for conditional GETs: an operation that honours If-None-Match names them in its
    # `extra`: {"parameters": ["IfNoneMatch"], "responses": {"304": "NotModified"}}.
    spec.components.parameter(
        "IfNoneMatch",
        "header",
        {"name": "If-None-Match", "schema": {"type": "string"}, "description": "ETags held."},
    )
    spec.components.response(
        "NotModified",
        {
            "description": "Not Modified",
            "headers": _header_refs((REQUEST_ID_HEADER, "ETag", "Cache-Control", "Vary")),
        },
    )
    spec.components.security_scheme(
        BEARER, {"type": "http", "scheme": "bearer", "description": "An API token, on writes."}
    )
    missing, unrouted = coverage_gaps(app, operations)
    for gap in missing:
        log.warning("route %s is not in openapi/operations.py: left out of /openapi.json", gap)
    for gap in unrouted:
        log.warning("openapi/operations.py describes %s, which no route serves", gap)
    for method, path, route in documented_routes(app):
        key = f"{method} {path}"
        if key in operations:
            operation = _operation(key, path, operations[key], route, app, plugin)
            spec.path(path=path, operations={method.lower(): operation})
    document: dict[str, Any] = spec.to_dict()
    return document


async def build_openapi(app: web.Application) -> None:
    """on_startup: encode the document once; /openapi.json serves these bytes."""
    app[OPENAPI] = orjson.dumps(build_spec(app))
