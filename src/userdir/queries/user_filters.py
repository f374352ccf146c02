"""WHERE and ORDER BY clauses for the users directory, from already validated parameters.

Column names come from `COLUMNS` (an allow-list); values are always bound parameters.

Text matching is the same on both backends: `contains` and `startswith` are case-sensitive and
treat `%` and `_` literally; `icontains` folds ASCII letters only (A-Z = a-z), because SQLite's
lower() folds nothing else and PostgreSQL's would fold per locale.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import and_, func, or_, tuple_
from sqlalchemy.sql.elements import ColumnElement

from userdir.models import User

# The only columns a request may name: identifiers never come from the request itself.
COLUMNS: Mapping[str, Any] = {
    name: getattr(User, name) for name in ("id", "username", "type", "image_url", "profile_url")
}
COLUMN_TYPES: Mapping[str, type] = {name: int if name == "id" else str for name in COLUMNS}
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ASCII_FOLD = str.maketrans(_UPPER, _UPPER.lower())

Filter = Sequence[Any]  # (field, operator, value)
Ordering = Sequence[str]  # ["-type", "username", "id"]


def ascii_lower(value: str) -> str:
    return value.translate(_ASCII_FOLD)


def _match(column: Any, operator: str, value: str, dialect: str) -> ColumnElement[bool]:
    if dialect == "sqlite":
        # SQLite's LIKE ignores ASCII case; instr() compares exactly and has no wildcards.
        if operator == "icontains":
            return func.instr(func.lower(column), ascii_lower(value)) > 0
        position = func.instr(column, value)
        return position == 1 if operator == "startswith" else position > 0
    if operator == "icontains":
        folded = func.translate(column, _UPPER, _UPPER.lower())
        return folded.contains(ascii_lower(value), autoescape=True)
    if operator == "startswith":
        return column.startswith(value, autoescape=True)  # type: ignore[no-any-return]
    return column.contains(value, autoescape=True)  # type: ignore[no-any-return]


def condition(field: str, operator: str, value: Any, dialect: str) -> ColumnElement[bool]:
    column = COLUMNS[field]
    if operator in ("contains", "icontains", "startswith"):
        return _match(column, operator, value, dialect)
    comparisons: dict[str, Any] = {
        "eq": column.__eq__,
        "ne": column.__ne__,
        "gt": column.__gt__,
        "gte": column.__ge__,
        "lt": column.__lt__,
        "lte": column.__le__,
        "in": column.in_,
    }
    return comparisons[operator](value)  # type: ignore[no-any-return]


def where(filters: Sequence[Filter], dialect: str) -> list[ColumnElement[bool]]:
    return [condition(field, op, value, dialect) for field, op, value in filters]


def parse_ordering(order_by: Ordering) -> list[tuple[str, bool]]:
    """[(field, descending), ...]."""
    return [(term.removeprefix("-"), term.startswith("-")) for term in order_by]


def order_clauses(order_by: Ordering, *, reverse: bool = False) -> list[Any]:
    clauses = []
    for field, descending in parse_ordering(order_by):
        column = COLUMNS[field]
        clauses.append(column.desc() if descending != reverse else column.asc())
    return clauses


def sort_key(user: User, order_by: Ordering) -> list[Any]:
    return [getattr(user, field) for field, _ in parse_ordering(order_by)]


def key_types(order_by: Ordering) -> list[type]:
    return [COLUMN_TYPES[field] for field, _ in parse_ordering(order_by)]


def keyset(order_by: Ordering, key: Sequence[Any], *, reverse: bool = False) -> ColumnElement[bool]:
    """Rows strictly after `key` in the ordering (strictly before it when `reverse`).

    One direction throughout: a row-value comparison, which PostgreSQL turns into one index
    range. Mixed directions: the OR-of-ANDs expansion, plus a redundant bound on the first
    column so the leading index column still limits the scan.
    """
    terms = parse_ordering(order_by)
    columns = [COLUMNS[field] for field, _ in terms]

    def after(
        column: Any, value: Any, descending: bool, *, inclusive: bool = False
    ) -> ColumnElement[bool]:
        forward = descending == reverse  # ascending, unless flipped by desc or by reverse
        if inclusive:
            bound: ColumnElement[bool] = column >= value if forward else column <= value
        else:
            bound = column > value if forward else column < value
        return bound

    directions = {descending for _, descending in terms}
    if len(terms) == 1:
        return after(columns[0], key[0], terms[0][1])
    if len(directions) == 1:
        return after(tuple_(*columns), tuple_(*key), directions.pop())
    alternatives = [
        and_(
            *(c == v for c, v in zip(columns[:i], key[:i], strict=True)),
            after(columns[i], key[i], terms[i][1]),
        )
        for i in range(len(terms))
    ]
    return and_(after(columns[0], key[0], terms[0][1], inclusive=True), or_(*alternatives))
