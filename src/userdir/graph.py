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


def cannot_reach_a_cycle(children: Mapping[int, Sequence[Row]]) -> set[int]:
    """The items from which no chain of links leads into a cycle: leaves first, then every
    item all of whose modifiers are already known to be such (linear in items + links)."""
    parents: defaultdict[int, list[int]] = defaultdict(list)
    pending: dict[int, int] = {}
    for parent, kids in children.items():
        pending[parent] = len(kids)
        for link in kids:
            parents[link["modifier_id"]].append(parent)
    done = {modifier for modifier in parents if modifier not in children}
    ready = list(done)
    while ready:
        for parent in parents.get(ready.pop(), ()):
            pending[parent] -= 1
            if pending[parent] == 0:
                done.add(parent)
                ready.append(parent)
    return done


def nest(
    items: Sequence[Row], links: Iterable[Row], *, depth: int, roots: Sequence[int] | None = None
) -> list[dict[str, Any]]:
    """Each root (every item by default) with its modifiers nested up to `depth` levels.

    A branch stops, marked `"truncated": true`, where the depth runs out or where a modifier
    is already on the path from the root (a cycle), so rendering always terminates. A
    modifier carries its `link` (position, selection bounds, price in this context).

    Shared modifiers repeat the same subtree many times: below an item that cannot reach a
    cycle no path can cut anything, so its modifiers at a given remaining depth are built
    once and the same list is shown wherever the item appears.
    """
    by_id = {item["id"]: item for item in items}
    # Links may lead to items not loaded (below a subtree's last level): they still count
    # for "truncated", and are rendered only when their item is there.
    children = {parent: kids for parent, kids in children_of(links).items() if parent in by_id}
    attributes: dict[int, dict[str, Any]] = {}  # per link, keyed by its object's id
    free = cannot_reach_a_cycle(children)
    built: dict[tuple[int, int], tuple[bool, list[dict[str, Any]]]] = {}

    def below(item_id: int, remaining: int, path: frozenset[int]) -> tuple[bool, list[Any]]:
        kids = children.get(item_id, ())
        if remaining == 0:
            return bool(kids), []
        if item_id in free:
            if (known := built.get((item_id, remaining))) is not None:
                return known
            shown, inner = kids, path
        else:
            inner = path | {item_id}
            shown = [k for k in kids if k["modifier_id"] not in inner]
        # "truncated" is exactly "a modifier left out", so no cut goes unmarked.
        result = (
            len(shown) < len(kids),
            [
                render(k["modifier_id"], remaining - 1, inner, k)
                for k in shown
                if k["modifier_id"] in by_id
            ],
        )
        if item_id in free:
            built[(item_id, remaining)] = result
        return result

    def render(
        item_id: int, remaining: int, path: frozenset[int], link: Row | None = None
    ) -> dict[str, Any]:
        node = dict(by_id[item_id])
        if link is not None:
            if (shown := attributes.get(id(link))) is None:
                shown = attributes[id(link)] = {name: link[name] for name in LINK_FIELDS}
            node["link"] = shown
        node["truncated"], node["modifiers"] = below(item_id, remaining, path)
        return node

    ids = by_id.keys() if roots is None else roots
    return [render(item_id, depth, frozenset()) for item_id in ids]


def flat(items: Sequence[Row], links: Iterable[Row]) -> dict[str, Any]:
    """Each item once plus the links between them: linear in items + links."""
    return {"items": list(items), "links": list(links)}
