"""Menus on the wire: items nested with their modifiers or flat with links, and read queries."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from marshmallow import Schema, fields, post_load, validate

FORMATS = ("nested", "flat")


class LinkAttributesOut(Schema):
    """What an item -> modifier link carries."""

    position = fields.Integer(dump_only=True)
    min_select = fields.Integer(dump_only=True)
    max_select = fields.Integer(dump_only=True, allow_none=True)
    price_cents = fields.Integer(dump_only=True, allow_none=True)


class LinkOut(LinkAttributesOut):
    """A link naming both of its ends, as flat output and link writes show it."""

    item_id = fields.Integer(dump_only=True)
    modifier_id = fields.Integer(dump_only=True)


class ItemFieldsOut(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(dump_only=True)
    description = fields.String(dump_only=True, allow_none=True)
    price_cents = fields.Integer(dump_only=True, allow_none=True)
    currency = fields.String(dump_only=True)
    available = fields.Boolean(dump_only=True)


class ItemOut(ItemFieldsOut):
    # True where nesting stopped (depth limit or a cycle): never cut silently.
    truncated = fields.Boolean(dump_only=True)
    # On modifiers only: the link from the item above.
    link = fields.Nested(
        LinkAttributesOut,
        dump_only=True,
        metadata={
            "optional": True,
            "description": "The link from the item above (modifiers only).",
        },
    )
    modifiers = fields.List(fields.Nested(lambda: ItemOut()), dump_only=True)


class FlatMenuOut(Schema):
    items = fields.List(fields.Nested(ItemFieldsOut), dump_only=True)
    links = fields.List(fields.Nested(LinkOut), dump_only=True)


class RestaurantOut(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(dump_only=True)


class RestaurantDetailOut(RestaurantOut):
    items = fields.Integer(dump_only=True)
    links = fields.Integer(dump_only=True)


@lru_cache(maxsize=8)
def menu_query_schema(max_depth: int) -> Schema:
    class MenuQuerySchema(Schema):
        depth = fields.Integer(load_default=max_depth, validate=validate.Range(0, max_depth))
        format = fields.String(load_default="nested", validate=validate.OneOf(FORMATS))

        @post_load
        def _typed(self, data: dict[str, Any], **kwargs: Any) -> MenuQuery:
            return MenuQuery(**data)

    return MenuQuerySchema()


@dataclass(frozen=True, slots=True)
class RestaurantsQuery:
    page_number: int = 1
    pagination: int = 100

    @property
    def normalized(self) -> str:
        return f"page={self.page_number}&size={self.pagination}"


@dataclass(frozen=True, slots=True)
class MenuQuery:
    depth: int
    format: str  # nested or flat

    @property
    def normalized(self) -> str:
        return f"{self.format}:{self.depth}"


class RestaurantsQuerySchema(Schema):
    page_number = fields.Integer(load_default=1, validate=validate.Range(1, 1_000_000))
    pagination = fields.Integer(load_default=100, validate=validate.Range(1, 1000))

    @post_load
    def _typed(self, data: dict[str, Any], **kwargs: Any) -> RestaurantsQuery:
        return RestaurantsQuery(**data)


ITEM_OUT = ItemOut()
ITEMS_OUT = ItemOut(many=True)
ITEM_FIELDS_OUT = ItemFieldsOut()
LINK_OUT = LinkOut()
FLAT_MENU_OUT = FlatMenuOut()
RESTAURANT_OUT = RestaurantOut()
RESTAURANTS_OUT = RestaurantOut(many=True)
RESTAURANT_DETAIL_OUT = RestaurantDetailOut()
RESTAURANTS_QUERY = RestaurantsQuerySchema()
