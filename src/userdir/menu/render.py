"""The modifier graph, assembled in Python from rows and links loaded in bulk."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

import orjson

from userdir.menu.values import ItemRow, LinkRow, link_attributes

# What follows an item's fields (and link) in a nested rendering, by "truncated".
TAIL = {False: b',"truncated":false,"modifiers":[', True: b',"truncated":true,"modifiers":['}
LEAF = {cut: tail + b"]}" for cut, tail in TAIL.items()}


def children_of(links: Iterable[LinkRow]) -> dict[int, list[LinkRow]]:
    """Each item's links in menu order: by position, then modifier id."""
    children: defaultdict[int, list[LinkRow]] = defaultdict(list)
    for link in links:
        children[link.item_id].append(link)
    for kids in children.values():
        kids.sort(key=lambda link: (link.position, link.modifier_id))
    return dict(children)


def cannot_reach_a_cycle(children: Mapping[int, Sequence[LinkRow]]) -> set[int]:
    """The items from which no chain of links leads into a cycle: leaves first, then every
    item all of whose modifiers are already known to be such (linear in items + links)."""
    parents: defaultdict[int, list[int]] = defaultdict(list)
    pending: dict[int, int] = {}
    for parent, kids in children.items():
        pending[parent] = len(kids)
        for link in kids:
            parents[link.modifier_id].append(parent)
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
    items: Sequence[ItemRow],
    links: Iterable[LinkRow],
    *,
    depth: int,
    roots: Sequence[int] | None = None,
) -> list[bytes]:
    """Each root (every item by default) with its modifiers nested up to `depth` levels, as
    one JSON object per root: the item's fields, then on a modifier its `link` (position,
    selection bounds, price in this context), `truncated` and `modifiers`.

    A branch stops, marked `"truncated": true`, where the depth runs out or where a modifier
    is already on the path from the root (a cycle), so rendering always terminates.

    Written as JSON text piece by piece: a dict per node costs several times more. Shared
    modifiers repeat the same subtree many times; below an item that cannot reach a cycle no
    path can cut anything, so its modifiers at a given remaining depth are written once.
    """
    by_id = {item.id: item for item in items}
    # Links may lead to items not loaded (below a subtree's last level): they still count
    # for "truncated", and are rendered only when their item is there.
    children = {parent: kids for parent, kids in children_of(links).items() if parent in by_id}
    # Two levels or more: a subtree can repeat (one level down, every modifier is a leaf).
    free = cannot_reach_a_cycle(children) if depth >= 2 else set()
    # An item's fields without the closing brace; each link as `,"link":{...}`: written once.
    fields = {item_id: orjson.dumps(item)[:-1] for item_id, item in by_id.items()}
    shown_links = {
        parent: [(k.modifier_id, b',"link":' + orjson.dumps(link_attributes(k))) for k in kids]
        for parent, kids in children.items()
    }
    written: dict[tuple[int, int], bytes] = {}

    def below(item_id: int, remaining: int, path: frozenset[int]) -> bytes:
        """`,"truncated":...,"modifiers":[...]}`: what follows an item's fields and link."""
        kids = shown_links.get(item_id, ())
        if remaining == 0:
            return LEAF[bool(kids)]
        if item_id in free:
            if (known := written.get((item_id, remaining))) is not None:
                return known
            shown, inner = kids, path
        else:
            inner = path | {item_id}
            shown = [k for k in kids if k[0] not in inner]
        if remaining == 1:  # the modifiers are leaves of the rendering
            parts = [fields[m] + link + LEAF[m in children] for m, link in shown if m in by_id]
        else:
            parts = [
                fields[m] + link + below(m, remaining - 1, inner) for m, link in shown if m in by_id
            ]
        # "truncated" is exactly "a modifier left out", so no cut goes unmarked.
        text = TAIL[len(shown) < len(kids)] + b",".join(parts) + b"]}"
        if item_id in free:
            written[(item_id, remaining)] = text
        return text

    ids = by_id.keys() if roots is None else roots
    return [fields[item_id] + below(item_id, depth, frozenset()) for item_id in ids]


def json_list(objects: Sequence[bytes]) -> bytes:
    return b"[" + b",".join(objects) + b"]"
