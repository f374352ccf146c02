"""Reading a request: path ids, query strings and JSON bodies, into typed values or a 4xx.

Every bad query parameter is reported at once, with the values allowed and a guess at what was
meant (400); every bad body field at once, by its path in the document (422).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import Any, TypeVar

import orjson
from aiohttp import web
from marshmallow import Schema, ValidationError
from multidict import MultiMapping
from yarl import URL

from userdir.cursor import CursorError, decode_cursor, derive_secret, key_types
from userdir.directory import UsersQuery
from userdir.errors import ApiError, BadRequest, NotFound, Unprocessable
from userdir.keys import SETTINGS
from userdir.schemas.query import INT_MAX, allowed_values, suggest
from userdir.schemas.users import USERS_QUERY

T = TypeVar("T")

# Menu tables use INTEGER keys: a larger id cannot exist, and the drivers would reject it.
MAX_ID = INT_MAX  # ids are INTEGER columns
MAX_ID_DIGITS = len(str(MAX_ID))
# Distinct query strings whose parsed form is kept: a repeated query (the common case: the
# same page polled by many clients) costs a dictionary lookup instead of a schema load.
PARSED_QUERIES = 4096


class UnsupportedMediaType(ApiError):
    status = 415


def path_id(request: web.Request, name: str) -> int:
    """The `{name}` path segment (routes restrict it to digits) as an id, or 404 naming what
    was looked for ("restaurant_id" -> "restaurant")."""
    raw = request.match_info[name]
    # Checked before int(): a 5,000-digit segment must not reach int()'s digit limit.
    value = int(raw) if len(raw) <= MAX_ID_DIGITS else 0
    if not 0 < value <= MAX_ID:
        what = name.removesuffix("_id").replace("modifier", "item")
        raise NotFound(f"No {what} with id {raw[:40]}{'...' if len(raw) > 40 else ''}.")
    return value


def describe_errors(
    schema: Schema, messages: Mapping[str, object], data: Mapping[str, object]
) -> list[dict[str, object]]:
    known = {f.data_key or name: f for name, f in schema.fields.items() if not f.dump_only}
    errors: list[dict[str, object]] = []
    for parameter in sorted(messages):
        detail = messages[parameter]
        text = " ".join(detail) if isinstance(detail, list) else str(detail)
        error: dict[str, object] = {"parameter": parameter, "detail": text}
        field = known.get(parameter)
        if field is None:
            error["detail"] = "Unknown parameter."
            names = sorted(known)
            base, _, operator = parameter.partition("__")
            operators = sorted(name for name in known if name.startswith(f"{base}__"))
            if operator and operators:
                # `field__op` with an operator the field does not take: name the ones it does.
                error["detail"] = f"Unknown operator {operator!r} for {base!r}."
                names = [base, *operators] if base in known else operators
            error["allowed"] = names
            guess = suggest(parameter, names)
        else:
            allowed = allowed_values(field)
            guess = None
            value = str(data.get(parameter, ""))
            if "suggest" in field.metadata:
                guess = field.metadata["suggest"](value)
            if allowed is not None:
                error["allowed"] = allowed
                guess = guess or suggest(value, map(str, allowed))
        if guess is not None:
            error["did_you_mean"] = guess
        errors.append(error)
    return errors


def load_query(schema: Schema, query: MultiMapping[str]) -> object:
    """Validate a query string with `schema`; raise BadRequest listing every problem."""
    data: dict[str, str] = {}
    repeated: dict[str, list[str]] = {}
    for key in query:
        values = query.getall(key)
        if len(values) > 1:
            repeated[key] = ["Given more than once; give it once."]
        data[key] = values[-1]
    try:
        result = schema.load(data)
    except ValidationError as exc:
        messages = {**exc.normalized_messages(), **repeated}  # type: ignore[no-untyped-call]
    else:
        if not repeated:
            return result
        messages = repeated
    raise BadRequest(
        "The query string has invalid parameters.",
        errors=describe_errors(schema, messages, data),
    )


def query(schema: Schema, request: web.Request, into: type[T]) -> T:
    """The query string loaded by `schema` into an `into` (a frozen value: it is shared by
    every request with the same query string, which costs a dictionary lookup, not a load)."""
    loaded = _loaded(schema, request.rel_url.raw_query_string)
    if isinstance(loaded, BadRequest):
        raise BadRequest(loaded.detail, errors=loaded.errors)  # a fresh one: no shared traceback
    assert isinstance(loaded, into), type(loaded)
    return loaded


@functools.lru_cache(maxsize=PARSED_QUERIES)
def _loaded(schema: Schema, raw_query_string: str) -> object:
    # The same parser aiohttp applies to request.query.
    parsed = URL.build(query_string=raw_query_string, encoded=True).query
    try:
        return load_query(schema, parsed)
    except BadRequest as exc:
        return exc


def users_query(request: web.Request) -> UsersQuery:
    """GET /users's query string, with its cursor (if any) verified and decoded."""
    parsed = query(USERS_QUERY, request, UsersQuery)
    if parsed.after is None and parsed.before is None:
        return parsed
    settings = request.app[SETTINGS]
    secret = derive_secret(settings.cursor_secret, settings.database_url)
    parameter, cursor = ("after", parsed.after) if parsed.after else ("before", parsed.before)
    assert cursor is not None
    try:
        key = decode_cursor(secret, parsed.bound_to, cursor, key_types(parsed.order_by))
    except CursorError as exc:
        error = {"parameter": parameter, "detail": str(exc)}
        raise BadRequest("The query string has invalid parameters.", errors=[error]) from None
    if parameter == "after":
        return dataclasses.replace(parsed, after_key=key)
    return dataclasses.replace(parsed, before_key=key)


async def json_body(request: web.Request, *, optional: bool = False) -> object:
    """The parsed body; `{}` for an absent body where the fields are all optional."""
    raw = await request.read()
    if not raw.strip():
        if optional:
            return {}
        raise BadRequest("This request needs a JSON body.")
    content_type = request.content_type
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise UnsupportedMediaType(f"The body must be application/json, not {content_type}.")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"The body is not valid JSON: {exc}.") from None


def field_errors(messages: Any, prefix: str = "") -> list[dict[str, object]]:
    """marshmallow's nested messages as a flat list: {"field": "items.0.name", "detail": ...}."""
    if isinstance(messages, Mapping):
        errors: list[dict[str, object]] = []
        for key in sorted(messages, key=str):
            path = f"{prefix}.{key}" if prefix else str(key)
            errors.extend(field_errors(messages[key], path))
        return errors
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [{"field": prefix or "body", "detail": " ".join(messages)}]
    return [{"field": prefix or "body", "detail": str(messages)}]


def invalid(errors: list[dict[str, object]]) -> Unprocessable:
    return Unprocessable("The request body has invalid fields.", errors=errors)


def load_body(schema: Schema, data: object, into: type[T]) -> T:
    """The body loaded by `schema`, which must produce an `into` (a dict or a typed value)."""
    if not isinstance(data, dict):
        raise invalid([{"field": "body", "detail": "Must be a JSON object."}])
    try:
        result = schema.load(data)
    except ValidationError as exc:
        raise invalid(field_errors(exc.normalized_messages())) from None  # type: ignore[no-untyped-call]
    assert isinstance(result, into), type(result)
    return result
