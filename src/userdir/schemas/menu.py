"""Menus on the wire: items nested with their modifiers, and the read query string."""

from __future__ import annotations

from functools import lru_cache

from marshmallow import Schema, fields, validate


class ItemOut(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(dump_only=True)
    description = fields.String(dump_only=True, allow_none=True)
    price_cents = fields.Integer(dump_only=True, allow_none=True)
    currency = fields.String(dump_only=True)
    # True where nesting stopped (depth limit or a cycle): never cut silently.
    truncated = fields.Boolean(dump_only=True)
    modifiers = fields.List(fields.Nested(lambda: ItemOut()), dump_only=True)


class RestaurantOut(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(dump_only=True)


@lru_cache(maxsize=8)
def menu_query_schema(max_depth: int) -> Schema:
    class MenuQuery(Schema):
        depth = fields.Integer(load_default=max_depth, validate=validate.Range(0, max_depth))

    return MenuQuery()


ITEMS_OUT = ItemOut(many=True)
RESTAURANT_OUT = RestaurantOut()
