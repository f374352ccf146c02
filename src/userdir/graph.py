"""The modifier graph, assembled in Python from rows and links loaded in bulk."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Row = Mapping[str, Any]
LINK_FIELDS = ("position", "min_select", "max_select", "price_cents")


def children_of(links: Iterable[Row]) -> dict[int, list[Row]]:
    """Each item's links in menu order: by position, then modifier id."""
    children: defaultdict[int, list[Row]] = defaultdict(list)
    for link in links:
        children[link["item_id"]].append(link)
    for kids in children.values():
        kids.sort(key=lambda link: (link["position"], link["modifier_id"]))
    return dict(children)


def nest(
    items: Sequence[Row], links: Iterable[Row], *, depth: int, roots: Sequence[int] | None = None
) -> list[dict[str, Any]]:
    """Each root (every item by default) with its modifiers nested up to `depth` levels.

    A branch stops, marked `"truncated": true`, where the depth runs out or where a modifier
    is already on the path from the root (a cycle), so rendering always terminates. A
    modifier carries its `link` (position, selection bounds, price in this context).
    """
    by_id = {item["id"]: dict(item) for item in items}
    # Links may lead to items not loaded (below a subtree's last level): they still count
    # for "truncated", and are rendered only when their item is there.
    children = {parent: kids for parent, kids in children_of(links).items() if parent in by_id}

    def render(
        item_id: int, remaining: int, path: frozenset[int], link: Row | None = None
    ) -> dict[str, Any]:
        node = dict(by_id[item_id])
        if link is not None:
            node["link"] = {name: link[name] for name in LINK_FIELDS}
        kids = children.get(item_id, [])
        if remaining == 0:
            node["truncated"] = bool(kids)
            node["modifiers"] = []
            return node
        inner = path | {item_id}
        # "truncated" is exactly "a modifier left out", so no cut goes unmarked.
        shown = [k for k in kids if k["modifier_id"] not in inner]
        node["truncated"] = len(shown) < len(kids)
        node["modifiers"] = [
            render(k["modifier_id"], remaining - 1, inner, k)
            for k in shown
            if k["modifier_id"] in by_id
        ]
        return node

    ids = by_id.keys() if roots is None else roots
    return [render(item_id, depth, frozenset()) for item_id in ids]


def flat(items: Sequence[Row], links: Iterable[Row]) -> dict[str, Any]:
    """Each item once plus the links between them: linear in items + links."""
    return {"items": list(items), "links": list(links)}
