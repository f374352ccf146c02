"""The menu's typed values: rows as the queries read them, and writes as the schemas load them.

The queries (queries/menu.py) build `ItemRow`s and `LinkRow`s straight from result tuples, in
column order; the write schemas (schemas/menu_in.py) load into `ItemFields`, `LinkAttributes`
and a document's `DocumentItem`s and `DocumentLink`s. orjson and the dump schemas read them
field by field, so the wire format stays where it is defined, in schemas/menu.py.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RestaurantRow:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class MenuCounts:
    items: int
    links: int


@dataclass(frozen=True, slots=True)
class ItemRow:
    """An item as stored and as sent, fields in wire order (orjson writes them in this order)."""

    id: int
    name: str
    description: str | None
    price_cents: int | None
    currency: str
    available: bool


@dataclass(frozen=True, slots=True)
class LinkRow:
    """An item -> modifier link as stored."""

    item_id: int
    modifier_id: int
    position: int
    min_select: int
    max_select: int | None  # None: no upper bound
    price_cents: int | None


@dataclass(frozen=True, slots=True)
class LinkAttributes:
    """What a link carries, as a PUT gives it; position None: kept, or after the last."""

    position: int | None
    min_select: int
    max_select: int | None
    price_cents: int | None


@dataclass(frozen=True, slots=True)
class ItemFields:
    """An item's fields as a create gives them (defaults filled in)."""

    name: str
    description: str | None
    price_cents: int | None
    currency: str
    available: bool

    def columns(self) -> dict[str, object]:
        return {
            "name": self.name,
            "description": self.description,
            "price_cents": self.price_cents,
            "currency": self.currency,
            "available": self.available,
        }


@dataclass(frozen=True, slots=True)
class DocumentItem:
    """An item of a whole-menu document, named by its key inside the document."""

    key: str
    fields: ItemFields


@dataclass(frozen=True, slots=True)
class DocumentLink:
    """A link of a whole-menu document, between items named by their keys."""

    item: str
    modifier: str
    attributes: LinkAttributes


def link_attributes(link: LinkRow | LinkAttributes) -> dict[str, int | None]:
    """What a link carries, in wire and column order: a dict, which orjson writes fastest."""
    return {
        "position": link.position,
        "min_select": link.min_select,
        "max_select": link.max_select,
        "price_cents": link.price_cents,
    }
