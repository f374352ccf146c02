"""Query-string fields shared by the schemas: bounded text, no NUL, allowed values, guesses."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from marshmallow import ValidationError, fields, validate

# Bounds that keep every value inside what both databases accept for BIGINT and INTEGER
# columns, and sane offsets.
BIGINT_MAX = 2**63 - 1
INT_MAX = 2**31 - 1
MAX_PARAM_LENGTH = 1024


def no_nul(value: str) -> None:
    if "\x00" in value:
        raise ValidationError("Must not contain NUL characters.")


def Text(**kwargs: Any) -> fields.String:  # reads like a field class
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
