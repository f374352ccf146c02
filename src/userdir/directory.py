"""The users directory's typed values: a query as parsed, a row, a count, a page.

The schema (schemas/users.py) loads a query string into `UsersQuery`; the queries
(queries/users.py) take it and return a `Page` of `UserRow`s; nothing in between is a dict.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

from userdir.models import User

# The columns, in table order, are the fields of the wire format: derived here, once.
USER_FIELDS: tuple[str, ...] = tuple(User.__table__.columns.keys())
TEXT_FIELDS: tuple[str, ...] = tuple(name for name in USER_FIELDS if name != "id")

Value = int | str
# A filter's value: one value, or the list of an `__in`.
FilterValue = Value | tuple[Value, ...]
SortKey = tuple[Value, ...]  # a row's values of the ordering's fields, in order


@dataclass(frozen=True, slots=True)
class UserRow:
    """One user as stored and as sent (orjson serializes it field by field)."""

    id: int
    username: str
    type: str
    image_url: str
    profile_url: str


@dataclass(frozen=True, slots=True)
class Filter:
    field: str
    operator: str  # eq, ne, gt, gte, lt, lte, in, contains, icontains, startswith
    value: FilterValue


@dataclass(frozen=True, slots=True)
class SortTerm:
    field: str
    descending: bool = False

    def __str__(self) -> str:
        return f"-{self.field}" if self.descending else self.field


@dataclass(frozen=True, slots=True)
class UsersQuery:
    filters: tuple[Filter, ...] = ()
    order_by: tuple[SortTerm, ...] = (SortTerm("id"),)  # always ends with id
    pagination: int = 25
    page_number: int = 1
    after: str | None = None  # cursors as given; their keys once verified (userdir.parse)
    before: str | None = None
    after_key: SortKey | None = None
    before_key: SortKey | None = None
    count: str = "estimated"  # estimated, exact, none
    format: str | None = None  # json, csv, html; None: by the Accept header
    normalized: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # What fixes the page, for cache keys: defaults filled in, filters sorted by the schema.
        shape = (
            self.bound_to.decode(),
            self.pagination,
            self.page_number,
            self.after,
            self.before,
            self.count,
        )
        object.__setattr__(self, "normalized", orjson.dumps(shape).decode())

    @property
    def bound_to(self) -> bytes:
        """What a cursor is signed together with: the filters and the ordering."""
        filters = [
            [f.field, f.operator, list(f.value) if isinstance(f.value, tuple) else f.value]
            for f in self.filters
        ]
        return orjson.dumps({"f": filters, "o": [str(term) for term in self.order_by]})

    @property
    def backwards(self) -> bool:
        return self.before is not None


@dataclass(frozen=True, slots=True)
class Count:
    value: int
    exact: bool


@dataclass(frozen=True, slots=True)
class Page:
    rows: tuple[UserRow, ...]  # in the requested order, whichever way the cursor points
    more: bool  # rows exist beyond this page in the direction of travel
    count: Count | None  # None with count=none
