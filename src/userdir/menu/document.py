"""A whole menu in one document, nested or flat, read into items by key and links by keys.

Flat: {"items": [{"key", "name", ...}], "links": [{"item", "modifier", ...link attributes}]}.
Nested: {"items": [{"name", ..., "modifiers": [{"name", ..., "link": {...}, "modifiers": ...}]}]}
where an item is identified by its "key" (its name by default): the first occurrence with a
name defines it, later ones repeat it identically or give only the key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from userdir.menu.render import LINK_FIELDS
from userdir.parse import invalid, load_body
from userdir.schemas.menu_in import FLAT_MENU_IN, LINK_IN, NESTED_MENU_IN

Row = dict[str, Any]
ITEM_FIELDS = ("name", "description", "price_cents", "currency", "available")
ITEM_DEFAULTS = {"description": None, "price_cents": None, "currency": "USD", "available": True}


def too_deep(data: Any, max_levels: int) -> str | None:
    """The path of a node nested past `max_levels`, found before a recursive schema load
    (which would exhaust the stack on a hostile document)."""
    stack: list[tuple[Any, str, int]] = [(data.get("items"), "items", 1)]
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


def load_menu_document(data: Any, *, max_depth: int) -> tuple[list[Row], list[Row]]:
    if isinstance(data, dict) and "links" in data:
        return from_flat(load_body(FLAT_MENU_IN, data))
    if isinstance(data, dict) and (path := too_deep(data, max_depth + 1)) is not None:
        detail = f"Nested more than {max_depth} levels deep: the maximum menu depth."
        raise invalid([{"field": path, "detail": detail}])
    return from_nested(load_body(NESTED_MENU_IN, data))


def _link(item: str, modifier: str, attributes: Row, position: int) -> Row:
    link = {"item": item, "modifier": modifier, **{k: attributes[k] for k in LINK_FIELDS}}
    if link["position"] is None:
        link["position"] = position
    return link


def _add_link(links: dict[tuple[str, str], Row], link: Row, path: str, errors: list[Row]) -> None:
    pair = (link["item"], link["modifier"])
    if links.setdefault(pair, link) != link:
        detail = f"Links {pair[0]!r} -> {pair[1]!r} again with other attributes."
        errors.append({"field": path, "detail": detail})


def from_flat(document: Row) -> tuple[list[Row], list[Row]]:
    errors: list[Row] = []
    items: dict[str, Row] = {}
    for index, item in enumerate(document["items"]):
        if item["key"] in items:
            errors.append({"field": f"items.{index}.key", "detail": "Key given twice."})
        items[item["key"]] = item
    links: dict[tuple[str, str], Row] = {}
    counts: dict[str, int] = {}
    for index, link in enumerate(document["links"]):
        for end in ("item", "modifier"):
            if link[end] not in items:
                detail = f"No item with key {link[end]!r} in this document."
                errors.append({"field": f"links.{index}.{end}", "detail": detail})
        position = counts.get(link["item"], 0)
        counts[link["item"]] = position + 1
        _add_link(
            links, _link(link["item"], link["modifier"], link, position), f"links.{index}", errors
        )
    if errors:
        raise invalid(errors)
    return list(items.values()), list(links.values())


def from_nested(document: Row) -> tuple[list[Row], list[Row]]:
    errors: list[Row] = []
    items: dict[str, Row] = {}
    references: list[tuple[str, str]] = []
    links: dict[tuple[str, str], Row] = {}
    default_link = LINK_IN.load({})
    # (node, its path, its parent's key, its index among the parent's modifiers)
    stack: list[tuple[Row, str, str | None, int]] = [
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
            item = {"key": key, **ITEM_DEFAULTS, **{f: node[f] for f in ITEM_FIELDS if f in node}}
            if items.setdefault(key, item) != item:
                detail = f"Item {key!r} is given again with other fields."
                errors.append({"field": path, "detail": detail})
        else:
            references.append((key, f"{path}.key"))
        if parent is None:
            if "link" in node:
                errors.append({"field": f"{path}.link", "detail": "A top-level item has no link."})
        else:
            attributes = node.get("link", default_link)
            _add_link(links, _link(parent, key, attributes, index), path, errors)
        children: Sequence[Row] = node["modifiers"]
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
