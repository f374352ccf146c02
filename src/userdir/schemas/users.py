"""Users on the wire: the directory's query string and its rows.

The query grammar: `field=value` (equality), `field__op=value` for the operators below,
`order_by=-type,username` (a `-` sorts descending; id always breaks ties last), page size
`pagination`, and either `page_number` or a keyset cursor `after` / `before`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from userdir.directory import USER_FIELDS, Filter, SortTerm, UsersQuery
from userdir.schemas.query import BIGINT_MAX, INT_MAX, MAX_PARAM_LENGTH, Text, no_nul, suggest

COMPARISONS = ("ne", "gt", "gte", "lt", "lte", "in")
MATCHES = ("contains", "icontains", "startswith")
OPERATORS: Mapping[str, tuple[str, ...]] = {
    name: COMPARISONS if name == "id" else COMPARISONS + MATCHES for name in USER_FIELDS
}
MAX_IN_VALUES = 100
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 25
# page_number * pagination must stay a valid SQL OFFSET on every backend.
MAX_PAGE_NUMBER = INT_MAX
COUNT_MODES = ("estimated", "exact", "none")
FORMATS = ("json", "csv", "html")
# A cursor carries a whole sort key (up to five columns of text), so it outgrows other values.
MAX_CURSOR_LENGTH = 8 * MAX_PARAM_LENGTH
# What `Ordering` accepts, for the OpenAPI document (ECMA-262 regex): known fields, each
# optionally prefixed with -, separated by commas, none given twice (the lookahead).
_NAMES = "|".join(USER_FIELDS)
ORDER_BY_PATTERN = (
    f"^(?!(?:.*,)?-?({_NAMES}),(?:.*,)?-?\\1(?:,|$))-?(?:{_NAMES})(?:,-?(?:{_NAMES}))*$"
)
# What `encode_cursor` produces: base64url(sort key) "." base64url(16-byte signature).
CURSOR_PATTERN = "^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]{22}$"


# A user on the wire: every column, by its name (ids are integers, the rest strings).
UserOut = Schema.from_dict(
    {
        name: fields.Integer(dump_only=True) if name == "id" else fields.String(dump_only=True)
        for name in USER_FIELDS
    },
    name="UserOut",
)


def _id_field() -> fields.Integer:
    return fields.Integer(strict=False, validate=validate.Range(-BIGINT_MAX, BIGINT_MAX))


def _value_field(name: str) -> fields.Field[Any]:
    return _id_field() if name == "id" else Text()


class CommaList(fields.Field[list[Any]]):
    """`a,b,c`: each item checked by the inner field."""

    def __init__(self, inner: fields.Field[Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.inner = inner

    def _deserialize(
        self, value: object, attr: str | None, data: object, **kwargs: object
    ) -> list[object]:
        items = str(value).split(",")
        if len(items) > MAX_IN_VALUES:
            raise ValidationError(f"At most {MAX_IN_VALUES} comma-separated values.")
        result, problems = [], []
        for item in items:
            try:
                result.append(self.inner.deserialize(item))
            except ValidationError as exc:
                problems.append(f"{item[:40]!r}: {' '.join(map(str, exc.messages))}")
        if problems:
            raise ValidationError("; ".join(problems))
        return result


def _suggest_ordering(value: str) -> str | None:
    terms = []
    for term in value.split(","):
        sign, name = ("-", term[1:]) if term.startswith("-") else ("", term)
        if name not in USER_FIELDS:
            name = suggest(name, USER_FIELDS) or ""
            if not name:
                return None
        terms.append(sign + name)
    return ",".join(terms)


class Ordering(fields.Field[list[str]]):
    """`-type,username` -> ["-type", "username", "id"]: id is always the final tie-breaker."""

    def _deserialize(
        self, value: object, attr: str | None, data: object, **kwargs: object
    ) -> list[str]:
        text = str(value)
        no_nul(text)
        terms: list[str] = []
        seen: set[str] = set()
        for term in text.split(","):
            name = term.removeprefix("-")
            if name not in USER_FIELDS:
                raise ValidationError(
                    f"Unknown field {term[:40]!r}: give fields separated by commas, "
                    "each optionally prefixed with - for descending."
                )
            if name in seen:
                raise ValidationError(f"Field {name!r} is given more than once.")
            # ids are unique: nothing after id can change the order, but it is still checked.
            if "id" not in seen:
                terms.append(term)
            seen.add(name)
        if "id" not in seen:
            terms.append("id")
        return terms


class UsersQueryBase(Schema):
    """GET /users: filters with operators, multi-field ordering, page-number or keyset paging."""

    @validates_schema
    def _one_way_of_paging(self, data: Mapping[str, object], **kwargs: object) -> None:
        errors: dict[str, list[str]] = {}
        if "after" in data and "before" in data:
            errors["before"] = ["Give either after or before, not both."]
        if "page_number" in data and ("after" in data or "before" in data):
            errors["page_number"] = ["Give either page_number or a cursor (after/before)."]
        if errors:
            raise ValidationError(errors)

    @post_load
    def _structure(self, data: dict[str, Any], **kwargs: object) -> UsersQuery:
        filters = []
        for key in sorted(data):
            name, _, operator = key.partition("__")
            if name in USER_FIELDS:
                value = data.pop(key)
                filters.append(
                    Filter(name, operator or "eq", tuple(value) if operator == "in" else value)
                )
        order_by = tuple(
            SortTerm(t.removeprefix("-"), t.startswith("-")) for t in data.pop("order_by")
        )
        return UsersQuery(filters=tuple(filters), order_by=order_by, **data)


def _cursor_field(where: str) -> fields.String:
    # Opaque: only the `after`/`before` of a Link header is valid, and only for the same filters
    # and ordering; anything else is a 400 (the signature is checked when the page is fetched).
    return fields.String(
        validate=[validate.Length(1, MAX_CURSOR_LENGTH), no_nul],
        metadata={
            "pattern": CURSOR_PATTERN,
            "description": f"An opaque cursor from a Link header: the {where} it names. "
            "Not with page_number, nor after with before.",
        },
    )


def _query_fields() -> dict[str, fields.Field[Any]]:
    declared: dict[str, fields.Field[Any]] = {}
    for name, operators in OPERATORS.items():
        declared[name] = _value_field(name)
        for operator in operators:
            inner = _value_field(name)
            declared[f"{name}__{operator}"] = CommaList(inner) if operator == "in" else inner
    declared.update(
        order_by=Ordering(
            load_default=["id"],
            metadata={
                "allowed": list(USER_FIELDS),
                "suggest": _suggest_ordering,
                "type": "string",
                "pattern": ORDER_BY_PATTERN,
                "default": "id",
                "example": "-type,username",
            },
        ),
        pagination=fields.Integer(
            load_default=DEFAULT_PAGE_SIZE, validate=validate.Range(1, MAX_PAGE_SIZE)
        ),
        page_number=fields.Integer(validate=validate.Range(1, MAX_PAGE_NUMBER)),
        after=_cursor_field("rows after"),
        before=_cursor_field("rows before"),
        count=fields.String(load_default="estimated", validate=validate.OneOf(COUNT_MODES)),
        format=fields.String(validate=validate.OneOf(FORMATS)),
    )
    return declared


UsersQuerySchema = UsersQueryBase.from_dict(_query_fields(), name="UsersQuery")

USER_OUT = UserOut()
USERS_OUT = UserOut(many=True)
USERS_QUERY = UsersQuerySchema()
