"""Menu writes on the wire: restaurants, items, links, and whole menu documents."""

from __future__ import annotations

from typing import Any

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

from userdir.menu.values import DocumentItem, DocumentLink, ItemFields, LinkAttributes
from userdir.schemas.query import INT_MAX, no_nul

MAX_DOCUMENT_ITEMS = 20_000
MAX_DOCUMENT_LINKS = 100_000


def Name(**kwargs: Any) -> fields.String:  # reads like a field class
    return fields.String(validate=[validate.Length(1, 200), no_nul], **kwargs)


def Description(**kwargs: Any) -> fields.String:
    return fields.String(allow_none=True, validate=[validate.Length(max=10_000), no_nul], **kwargs)


def Count(**kwargs: Any) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(0, INT_MAX), **kwargs)


def Currency(**kwargs: Any) -> fields.String:
    return fields.String(
        validate=validate.Regexp(r"^[A-Z]{3}\Z", error="An ISO 4217 code such as USD."),
        # The same rule in a portable (ECMA-262) pattern: "$" alone would let a final
        # newline through, the length does not.
        metadata={"pattern": "^[A-Z]{3}$", "minLength": 3, "maxLength": 3},
        **kwargs,
    )


class StrictBoolean(fields.Boolean):
    """JSON true or false, nothing else: truthy/falsy sets cannot say it, since 0 == False
    and 1 == True in Python (so 0, 1, 0.0 and 1.0 would pass as booleans)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class RestaurantIn(Schema):
    class Meta:
        unknown = RAISE

    name = Name(required=True)


class RestaurantPatch(Schema):
    name = Name()


class ItemPatch(Schema):
    """Every field optional: only what is given changes."""

    name = Name()
    description = Description()
    price_cents = Count(allow_none=True, metadata={"doc": "integer minor units"})
    currency = Currency()
    available = StrictBoolean()


class ItemIn(ItemPatch):
    name = Name(required=True)
    description = Description(load_default=None)
    price_cents = Count(allow_none=True, load_default=None)
    currency = Currency(load_default="USD")
    available = StrictBoolean(load_default=True)

    @post_load  # FlatItemIn's replaces it: a document's item carries its key
    def _typed(self, data: dict[str, Any], **kwargs: Any) -> ItemFields | DocumentItem:
        return ItemFields(**data)


class LinkIn(Schema):
    """A link's attributes; a PUT gives them all (position: kept, or after the last)."""

    position = Count(allow_none=True, load_default=None)
    min_select = fields.Integer(strict=True, validate=validate.Range(0, 1000), load_default=0)
    # null: no upper bound
    max_select = fields.Integer(
        strict=True, allow_none=True, validate=validate.Range(0, 1000), load_default=None
    )
    price_cents = Count(allow_none=True, load_default=None)

    @validates_schema(skip_on_field_errors=False)
    def bounds(self, data: dict[str, Any], **kwargs: Any) -> None:
        high = data.get("max_select")
        if high is not None and high < data.get("min_select", 0):
            raise ValidationError("Must be at least min_select.", "max_select")

    @post_load  # FlatLinkIn's replaces it: a document's link names its ends
    def _typed(self, data: dict[str, Any], **kwargs: Any) -> LinkAttributes | DocumentLink:
        return LinkAttributes(**data)


Key = Name


class FlatItemIn(ItemIn):
    key = Key(required=True, metadata={"doc": "names the item inside this document"})

    @post_load
    def _typed(self, data: dict[str, Any], **kwargs: Any) -> DocumentItem:
        key = data.pop("key")
        return DocumentItem(key, ItemFields(**data))


class FlatLinkIn(LinkIn):
    item = Key(required=True)
    modifier = Key(required=True)

    @post_load
    def _typed(self, data: dict[str, Any], **kwargs: Any) -> DocumentLink:
        item, modifier = data.pop("item"), data.pop("modifier")
        return DocumentLink(item, modifier, LinkAttributes(**data))


class FlatMenuIn(Schema):
    items = fields.List(
        fields.Nested(FlatItemIn), required=True, validate=validate.Length(max=MAX_DOCUMENT_ITEMS)
    )
    links = fields.List(
        fields.Nested(FlatLinkIn),
        load_default=list,
        validate=validate.Length(max=MAX_DOCUMENT_LINKS),
    )


class NodeIn(ItemPatch):
    """A top-level item in a nested document: with a name it defines the item under its key
    (the name by default); with only a key it refers to an item defined elsewhere in the
    document. It links to nothing above it, so it takes no `link`."""

    key = Key()
    modifiers = fields.List(fields.Nested(lambda: ModifierNodeIn()), load_default=list)


class ModifierNodeIn(NodeIn):
    """A modifier in a nested document: an item as at the top, and its link's attributes."""

    link = fields.Nested(LinkIn)


class NestedMenuIn(Schema):
    items = fields.List(
        fields.Nested(NodeIn), required=True, validate=validate.Length(max=MAX_DOCUMENT_ITEMS)
    )


RESTAURANT_IN = RestaurantIn()
RESTAURANT_PATCH = RestaurantPatch()
ITEM_IN = ItemIn()
ITEM_PATCH = ItemPatch()
LINK_IN = LinkIn()
FLAT_MENU_IN = FlatMenuIn()
NESTED_MENU_IN = NestedMenuIn()
