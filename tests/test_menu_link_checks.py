"""Linking a modifier reads only the links around the new one, and decides as the whole menu
would: the same cycles, the same depths, the same paths shown."""

from __future__ import annotations

import random

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from userdir.menu.invariants import GraphViolation, check_link
from userdir.models import Item, Restaurant, item_modifier
from userdir.queries.menu_writes import links_around

ITEMS = 40
MAX_DEPTH = 4


def outcome(edges: list[tuple[int, int]], parent: int, child: int) -> tuple[str, list[int]] | None:
    try:
        check_link(edges, parent, child, max_depth=MAX_DEPTH)
    except GraphViolation as exc:
        return exc.kind, exc.path
    return None


async def make_menu(sessionmaker: async_sessionmaker[AsyncSession]) -> list[tuple[int, int]]:
    """A random acyclic menu (links only go from a lower id to a higher one) beside an
    unrelated chain; returns the menu's links, sorted as the database sorts them."""
    rng = random.Random(20261130)
    async with sessionmaker.begin() as session:
        restaurant = Restaurant(name="Graph")
        session.add(restaurant)
        await session.flush()
        items = [Item(restaurant_id=restaurant.id, name=f"i{n}") for n in range(ITEMS + 3)]
        session.add_all(items)
        await session.flush()
        ids = [item.id for item in items]
        pairs = {tuple(sorted(rng.sample(range(ITEMS), 2))) for _ in range(70)}
        # Three items apart from the rest: a chain nothing else reaches.
        pairs |= {(ITEMS, ITEMS + 1), (ITEMS + 1, ITEMS + 2)}
        edges = sorted((ids[a], ids[b]) for a, b in pairs)
        await session.execute(
            insert(item_modifier), [{"item_id": a, "modifier_id": b} for a, b in edges]
        )
    return edges


async def test_the_links_around_decide_as_the_whole_menu(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    edges = await make_menu(sessionmaker)
    apart = set(edges[-2:])  # the unrelated chain: its items have the highest ids
    nodes = sorted({n for edge in edges for n in edge} - {n for e in apart for n in e})
    rng = random.Random(7)
    decided = {"cycle": 0, "depth": 0, "ok": 0}
    smaller = 0
    async with sessionmaker() as session:
        for _ in range(80):
            parent, child = rng.sample(nodes, 2)
            if (parent, child) in set(edges):
                continue
            around = await links_around(session, item_id=parent, modifier_id=child)
            seen = [(link.item_id, link.modifier_id) for link in around]
            assert not apart & set(seen), "links nothing reaches were read"
            assert set(seen) <= set(edges) and seen == sorted(seen)
            expected = outcome(edges, parent, child)
            assert outcome(seen, parent, child) == expected, (parent, child)
            decided[expected[0] if expected else "ok"] += 1
            smaller += len(seen) < len(edges) - len(apart)
    # The sample reached every kind of answer, and the checks read less than the menu.
    assert all(decided.values()), decided
    assert smaller > 0
