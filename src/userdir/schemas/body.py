"""JSON request bodies: every invalid field reported at once, by its path in the document."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, ValidationError

from userdir.errors import Unprocessable


def field_errors(messages: Any, prefix: str = "") -> list[dict[str, Any]]:
    """marshmallow's nested messages as a flat list: {"field": "items.0.name", "detail": ...}."""
    if isinstance(messages, Mapping):
        errors: list[dict[str, Any]] = []
        for key in sorted(messages, key=str):
            path = f"{prefix}.{key}" if prefix else str(key)
            errors.extend(field_errors(messages[key], path))
        return errors
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [{"field": prefix or "body", "detail": " ".join(messages)}]
    return [{"field": prefix or "body", "detail": str(messages)}]


def invalid(errors: list[dict[str, Any]]) -> Unprocessable:
    return Unprocessable("The request body has invalid fields.", errors=errors)


def load_body(schema: Schema, data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise invalid([{"field": "body", "detail": "Must be a JSON object."}])
    try:
        result: dict[str, Any] = schema.load(data)
    except ValidationError as exc:
        raise invalid(field_errors(exc.normalized_messages())) from None  # type: ignore[no-untyped-call]
    return result
