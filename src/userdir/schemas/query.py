"""Query-string validation: every bad parameter reported at once, with allowed values."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate
from multidict import MultiMapping

from userdir.errors import BadRequest

# Bounds that keep every value inside what both databases accept for BIGINT and sane offsets.
BIGINT_MAX = 2**63 - 1
MAX_PARAM_LENGTH = 1024


def no_nul(value: str) -> None:
    if "\x00" in value:
        raise ValidationError("Must not contain NUL characters.")


def Text(**kwargs: Any) -> fields.String:  # noqa: N802 - reads like a field class
    """A query-string text value: bounded length, no NUL (PostgreSQL cannot store one)."""
    return fields.String(validate=[validate.Length(max=MAX_PARAM_LENGTH), no_nul], **kwargs)


def suggest(value: str, choices: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return close[0] if close else None


def allowed_values(field: fields.Field[Any]) -> list[Any] | None:
    if "allowed" in field.metadata:
        return list(field.metadata["allowed"])
    for validator in field.validators:
        if isinstance(validator, validate.OneOf):
            return list(validator.choices)
        if isinstance(validator, validate.Range):
            low = "" if validator.min is None else validator.min
            high = "" if validator.max is None else validator.max
            return [f"{low}..{high}"]
    return None


def describe_errors(
    schema: Schema, messages: Mapping[str, Any], data: Mapping[str, Any]
) -> list[dict[str, Any]]:
    known = {f.data_key or name: f for name, f in schema.fields.items() if not f.dump_only}
    errors: list[dict[str, Any]] = []
    for parameter in sorted(messages):
        detail = messages[parameter]
        text = " ".join(detail) if isinstance(detail, list) else str(detail)
        error: dict[str, Any] = {"parameter": parameter, "detail": text}
        field = known.get(parameter)
        if field is None:
            error["detail"] = "Unknown parameter."
            error["allowed"] = sorted(known)
            base, _, operator = parameter.partition("__")
            operators = sorted(name for name in known if name.startswith(f"{base}__"))
            if operator and operators:
                # `field__op` with an operator the field does not take: name the ones it does.
                error["detail"] = f"Unknown operator {operator!r} for {base!r}."
                error["allowed"] = [base, *operators] if base in known else operators
            guess = suggest(parameter, error["allowed"])
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


def load_query(schema: Schema, query: MultiMapping[str]) -> dict[str, Any]:
    """Validate a query string with `schema`; raise BadRequest listing every problem."""
    data: dict[str, str] = {}
    repeated: dict[str, list[str]] = {}
    for key in query:
        values = query.getall(key)
        if len(values) > 1:
            repeated[key] = ["Given more than once; give it once."]
        data[key] = values[-1]
    try:
        result: dict[str, Any] = schema.load(data)
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
