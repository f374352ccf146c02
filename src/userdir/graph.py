"""The modifier graph, assembled in Python from rows and edges loaded in bulk."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from userdir.models import Item


def item_fields(item: Item) -> dict[str, Any]:
    return {
        "id": item.id,
        "name": item.name,
        "description": item.description,
        "price_cents": item.price_cents,
        "currency": item.currency,
    }


def nest(
    items: Sequence[Item], edges: Iterable[tuple[int, int]], *, depth: int
) -> list[dict[str, Any]]:
    """Every item with its modifiers nested up to `depth` levels.

    A branch stops, marked `"truncated": true`, where the depth runs out or where a modifier
    is already on the path from the root (a cycle), so rendering always terminates.
    """
    by_id = {item.id: item_fields(item) for item in items}
    children: defaultdict[int, list[int]] = defaultdict(list)
    for parent, child in edges:
        if parent in by_id and child in by_id:
            children[parent].append(child)

    def render(item_id: int, remaining: int, path: frozenset[int]) -> dict[str, Any]:
        node = dict(by_id[item_id])
        kids = children.get(item_id, [])
        cut = bool(kids) and (remaining == 0 or any(k in path for k in kids))
        node["truncated"] = cut
        if remaining == 0:
            node["modifiers"] = []
            return node
        inner = path | {item_id}
        node["modifiers"] = [render(k, remaining - 1, inner) for k in kids if k not in inner]
        return node

    return [render(item.id, depth, frozenset()) for item in items]
