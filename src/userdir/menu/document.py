"""A whole menu in one document, nested or flat, read into items by key and links by keys.

Flat: {"items": [{"key", "name", ...}], "links": [{"item", "modifier", ...link attributes}]}.
Nested: {"items": [{"name", ..., "modifiers": [{"name", ..., "link": {...}, "modifiers": ...}]}]}
where an item is identified by its "key" (its name by default): the first occurrence with a
name defines it, later ones repeat it identically or give only the key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TypedDict, cast

from userdir.menu.values import DocumentItem, DocumentLink, ItemFields, LinkAttributes
from userdir.parse import invalid, load_body
from userdir.schemas.menu_in import FLAT_MENU_IN, LINK_IN, NESTED_MENU_IN

Errors = list[dict[str, object]]


class FlatDocument(TypedDict):
    items: list[DocumentItem]
    links: list[DocumentLink]


class Node(TypedDict, total=False):
    """An item of a nested document as NodeIn loads it: only what was given."""

    key: str
    name: str
    description: str | None
    price_cents: int | None
    currency: str
    available: bool
    link: LinkAttributes
    modifiers: list[Node]


class NestedDocument(TypedDict):
    items: list[Node]


def too_deep(data: Mapping[str, object], max_levels: int) -> str | None:
    """The path of a node nested past `max_levels`, found before a recursive schema load
    (which would exhaust the stack on a hostile document)."""
    stack: list[tuple[object, str, int]] = [(data.get("items"), "items", 1)]
    while stack:
        nodes, path, level = stack.pop()
        if not isinstance(nodes, list):
            continue
        if level > max_levels:
            return path
        for index, node in enumerate(nodes):
            if isinstance(node, dict):
                stack.append((node.get("modifiers"), f"{path}.{index}.modifiers", level + 1))
    return None


Document = tuple[list[DocumentItem], list[DocumentLink]]


def load_menu_document(data: object, *, max_depth: int) -> Document:
    if isinstance(data, dict) and "links" in data:
        return from_flat(cast(FlatDocument, load_body(FLAT_MENU_IN, data, dict)))
    if isinstance(data, dict) and (path := too_deep(data, max_depth + 1)) is not None:
        detail = f"Nested more than {max_depth} levels deep: the maximum menu depth."
        raise invalid([{"field": path, "detail": detail}])
    return from_nested(cast(NestedDocument, load_body(NESTED_MENU_IN, data, dict)))


def _link(item: str, modifier: str, attributes: LinkAttributes, position: int) -> DocumentLink:
    if attributes.position is None:
        attributes = dataclasses.replace(attributes, position=position)
    return DocumentLink(item, modifier, attributes)


def _add_link(
    links: dict[tuple[str, str], DocumentLink], link: DocumentLink, path: str, errors: Errors
) -> None:
    pair = (link.item, link.modifier)
    if links.setdefault(pair, link) != link:
        detail = f"Links {pair[0]!r} -> {pair[1]!r} again with other attributes."
        errors.append({"field": path, "detail": detail})


def from_flat(document: FlatDocument) -> Document:
    errors: Errors = []
    items: dict[str, DocumentItem] = {}
    for index, item in enumerate(document["items"]):
        if item.key in items:
            errors.append({"field": f"items.{index}.key", "detail": "Key given twice."})
        items[item.key] = item
    links: dict[tuple[str, str], DocumentLink] = {}
    counts: dict[str, int] = {}
    for index, link in enumerate(document["links"]):
        for end, key in (("item", link.item), ("modifier", link.modifier)):
            if key not in items:
                detail = f"No item with key {key!r} in this document."
                errors.append({"field": f"links.{index}.{end}", "detail": detail})
        position = counts.get(link.item, 0)
        counts[link.item] = position + 1
        _add_link(
            links,
            _link(link.item, link.modifier, link.attributes, position),
            f"links.{index}",
            errors,
        )
    if errors:
        raise invalid(errors)
    return list(items.values()), list(links.values())


def from_nested(document: NestedDocument) -> Document:
    errors: Errors = []
    items: dict[str, DocumentItem] = {}
    references: list[tuple[str, str]] = []
    links: dict[tuple[str, str], DocumentLink] = {}
    default_link: LinkAttributes = LINK_IN.load({})
    # (node, its path, its parent's key, its index among the parent's modifiers)
    stack: list[tuple[Node, str, str | None, int]] = [
        (node, f"items.{i}", None, i) for i, node in reversed(list(enumerate(document["items"])))
    ]
    while stack:
        node, path, parent, index = stack.pop()
        key = node.get("key", node.get("name"))
        if key is None:
            detail = "Give a name (a new item) or a key (an item defined elsewhere)."
            errors.append({"field": f"{path}.key", "detail": detail})
            continue
        if "name" in node:
            fields = ItemFields(  # what is not given takes ItemIn's defaults
                name=node["name"],
                description=node.get("description"),
                price_cents=node.get("price_cents"),
                currency=node.get("currency", "USD"),
                available=node.get("available", True),
            )
            item = DocumentItem(key, fields)
            if items.setdefault(key, item) != item:
                detail = f"Item {key!r} is given again with other fields."
                errors.append({"field": path, "detail": detail})
        else:
            references.append((key, f"{path}.key"))
        if parent is not None:  # a top-level item has no link (NodeIn takes none)
            attributes = node.get("link", default_link)
            _add_link(links, _link(parent, key, attributes, index), path, errors)
        children = node.get("modifiers", [])
        stack.extend(
            (child, f"{path}.modifiers.{i}", key, i)
            for i, child in reversed(list(enumerate(children)))
        )
    errors.extend(
        {"field": path, "detail": f"No item with key {key!r} is defined in this document."}
        for key, path in references
        if key not in items
    )
    if errors:
        raise invalid(errors)
    return list(items.values()), list(links.values())
