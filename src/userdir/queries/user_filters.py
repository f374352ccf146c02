"""WHERE and ORDER BY clauses for the users directory, from already validated parameters.

Column names come from `COLUMNS` (an allow-list); values are always bound parameters.

Text matching is the same on both backends: `contains` and `startswith` are case-sensitive and
treat `%` and `_` literally; `icontains` folds ASCII letters only (A-Z = a-z), because SQLite's
lower() folds nothing else and PostgreSQL's would fold per locale.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, UnaryExpression, and_, func, or_, tuple_

from userdir.directory import USER_FIELDS, Filter, FilterValue, SortKey, SortTerm, UserRow, Value
from userdir.models import User

# The only columns a request may name: identifiers never come from the request itself.
Column = ColumnElement[Value]
COLUMNS: Mapping[str, Column] = {name: User.__table__.c[name] for name in USER_FIELDS}
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ASCII_FOLD = str.maketrans(_UPPER, _UPPER.lower())


def ascii_lower(value: str) -> str:
    return value.translate(_ASCII_FOLD)


def like_pattern(value: str, *, prefix: bool = False) -> str:
    """A LIKE pattern matching `value` literally, as a substring (or a prefix).

    Built here and bound whole (never `'%' || :value`), so the planner sees the pattern itself:
    a constant prefix becomes an index range, a constant substring a trigram search. The escape
    character is PostgreSQL's default, the backslash.
    """
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped}%" if prefix else f"%{escaped}%"


def _match(column: Column, operator: str, value: str, dialect: str) -> ColumnElement[bool]:
    if dialect == "sqlite":
        # SQLite's LIKE ignores ASCII case; instr() compares exactly and has no wildcards.
        if operator == "icontains":
            return func.instr(func.lower(column), ascii_lower(value)) > 0
        position = func.instr(column, value)
        return position == 1 if operator == "startswith" else position > 0
    if operator == "icontains":
        pattern = like_pattern(ascii_lower(value))
        # ILIKE is what a trigram index serves; it folds at least A-Z (exactly A-Z under the
        # columns' "C" collation), so it finds a superset, and the ASCII fold decides.
        folded = func.translate(column, _UPPER, _UPPER.lower())
        return and_(column.ilike(pattern), folded.like(pattern))
    if operator == "startswith":
        return column.like(like_pattern(value, prefix=True))
    return column.like(like_pattern(value))


def condition(where: Filter, dialect: str) -> ColumnElement[bool]:
    column, operator, value = COLUMNS[where.field], where.operator, where.value
    if operator in ("contains", "icontains", "startswith"):
        assert isinstance(value, str)
        return _match(column, operator, value, dialect)
    if operator == "in":
        assert isinstance(value, tuple)
        return column.in_(value)
    comparisons: dict[str, Callable[[FilterValue], ColumnElement[bool]]] = {
        "eq": column.__eq__,
        "ne": column.__ne__,
        "gt": column.__gt__,
        "gte": column.__ge__,
        "lt": column.__lt__,
        "lte": column.__le__,
    }
    return comparisons[operator](value)


def where(filters: Sequence[Filter], dialect: str) -> list[ColumnElement[bool]]:
    return [condition(f, dialect) for f in filters]


def order_clauses(
    order_by: Sequence[SortTerm], *, reverse: bool = False
) -> list[UnaryExpression[Value]]:
    clauses = []
    for term in order_by:
        column = COLUMNS[term.field]
        clauses.append(column.desc() if term.descending != reverse else column.asc())
    return clauses


def sort_key(row: UserRow, order_by: Sequence[SortTerm]) -> SortKey:
    return tuple(getattr(row, term.field) for term in order_by)


def keyset(
    order_by: Sequence[SortTerm], key: SortKey, *, reverse: bool = False
) -> ColumnElement[bool]:
    """Rows strictly after `key` in the ordering (strictly before it when `reverse`).

    One direction throughout: a row-value comparison, which PostgreSQL turns into one index
    range. Mixed directions: the OR-of-ANDs expansion, plus a redundant bound on the first
    column so the leading index column still limits the scan.
    """
    terms = [(term.field, term.descending) for term in order_by]
    columns = [COLUMNS[field] for field, _ in terms]

    def after(
        column: ColumnElement[Any], value: object, descending: bool, *, inclusive: bool = False
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
