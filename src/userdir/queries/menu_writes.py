"""Menu writes: each runs inside the handler's transaction, after taking the menu's lock."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar

from sqlalchemy import CTE, ColumnElement, delete, insert, select, union, update
from sqlalchemy.ext.asyncio import AsyncSession

from userdir.datasets import RESTAURANTS, menu
from userdir.errors import Conflict, NotFound
from userdir.menu.invariants import GraphViolation, check_graph, check_link
from userdir.menu.values import (
    DocumentItem,
    DocumentLink,
    ItemFields,
    LinkAttributes,
    LinkRow,
    link_attributes,
)
from userdir.models import Item, Restaurant, item_modifier
from userdir.queries.menu import LINK_COLUMNS, get_restaurant
from userdir.queries.versions import bump_version

N = TypeVar("N", bound=Hashable)


async def lock_menu(session: AsyncSession, *, restaurant_id: int) -> Restaurant:
    """Serialize the writers of one menu until the transaction ends, then return it.

    The version bump comes first because it is a write: pysqlite only opens a transaction
    at the first write, so on SQLite this takes the database's write lock before anything
    is read, and concurrent writers queue (busy_timeout) instead of checking stale edges.
    On PostgreSQL it row-locks the menu's version; FOR UPDATE on the restaurant also holds
    off a concurrent delete of the restaurant.
    """
    await bump_version(session, menu(restaurant_id))
    return await get_restaurant(session, restaurant_id=restaurant_id, for_update=True)


async def create_restaurant(session: AsyncSession, *, name: str) -> Restaurant:
    restaurant = Restaurant(name=name)
    session.add(restaurant)
    await session.flush()
    await bump_version(session, RESTAURANTS)
    # SQLite may reuse the id of a deleted restaurant: its menu's old cache must not show.
    await bump_version(session, menu(restaurant.id))
    return restaurant


async def update_restaurant(
    session: AsyncSession, *, restaurant_id: int, changes: Mapping[str, object]
) -> Restaurant:
    restaurant = await lock_menu(session, restaurant_id=restaurant_id)
    for name, value in changes.items():
        setattr(restaurant, name, value)
    await session.flush()
    await bump_version(session, RESTAURANTS)
    return restaurant


async def delete_restaurant(session: AsyncSession, *, restaurant_id: int) -> None:
    await lock_menu(session, restaurant_id=restaurant_id)
    # Items and their links go with it: ON DELETE CASCADE.
    await session.execute(delete(Restaurant).where(Restaurant.id == restaurant_id))
    await bump_version(session, RESTAURANTS)


async def get_item(session: AsyncSession, *, restaurant_id: int, item_id: int) -> Item:
    stmt = select(Item).where(Item.id == item_id, Item.restaurant_id == restaurant_id)
    item = await session.scalar(stmt)
    if item is None:
        raise NotFound(f"No item {item_id} in restaurant {restaurant_id}.")
    return item


async def create_item(session: AsyncSession, *, restaurant_id: int, fields: ItemFields) -> Item:
    await lock_menu(session, restaurant_id=restaurant_id)
    item = Item(restaurant_id=restaurant_id, **fields.columns())
    session.add(item)
    await session.flush()
    return item


async def update_item(
    session: AsyncSession, *, restaurant_id: int, item_id: int, changes: Mapping[str, object]
) -> Item:
    await lock_menu(session, restaurant_id=restaurant_id)
    item = await get_item(session, restaurant_id=restaurant_id, item_id=item_id)
    for name, value in changes.items():
        setattr(item, name, value)
    await session.flush()
    return item


async def delete_item(session: AsyncSession, *, restaurant_id: int, item_id: int) -> None:
    await lock_menu(session, restaurant_id=restaurant_id)
    await get_item(session, restaurant_id=restaurant_id, item_id=item_id)
    # Its links, both ways, go with it: ON DELETE CASCADE.
    await session.execute(delete(Item).where(Item.id == item_id))


def describe_path(names: Mapping[N, str], path: Sequence[N]) -> str:
    return " -> ".join(f"{names.get(node, node)} ({node})" for node in path)


def _violation(
    exc: GraphViolation[N], names: Mapping[N, str], field: str, max_depth: int
) -> Conflict:
    shown = describe_path(names, exc.path)
    if exc.kind == "cycle":
        detail = f"The modifiers would form a cycle: {shown}."
    else:
        levels = len(exc.path) - 1
        detail = f"The menu would be {levels} levels deep ({shown}); the maximum is {max_depth}."
    error = {"field": field, "detail": detail, "path": exc.path}
    return Conflict(detail, errors=[error])


async def _names(session: AsyncSession, ids: Sequence[int]) -> dict[int, str]:
    rows = await session.execute(select(Item.id, Item.name).where(Item.id.in_(set(ids))))
    return {row.id: row.name for row in rows}


def _walk(name: str, start: ColumnElement[bool], near: str, far: str) -> CTE:
    """The links reached from `start`'s, each step joining a link's `far` end to the next
    link's `near` end: one index lookup a link, no scan of the menu."""
    links = item_modifier.c
    walked = select(*LINK_COLUMNS).where(start).cte(name, recursive=True)
    step = select(*LINK_COLUMNS).join(walked, links[near] == walked.c[far])
    return walked.union(step)


async def links_around(session: AsyncSession, *, item_id: int, modifier_id: int) -> list[LinkRow]:
    """The links a new item -> modifier link is checked against, in one statement: those below
    the modifier (a cycle would come back to the item through them; they make the depth below),
    those above the item (the depth above) and the item's own (its modifiers' positions).

    The rest of the menu cannot take part in a cycle or a longest chain through the new link,
    so the checks on these links decide as they would on the whole menu. UNION drops repeated
    rows, so the walks end on any graph."""
    links = item_modifier.c
    below = _walk("below", links.item_id == modifier_id, "item_id", "modifier_id")
    above = _walk("above", links.modifier_id == item_id, "modifier_id", "item_id")
    own = select(*LINK_COLUMNS).where(links.item_id == item_id)
    stmt = union(own, select(below), select(above)).subquery()
    # Sorted as the whole menu's links are: the same shortest path is shown.
    ordered = select(stmt).order_by(stmt.c.item_id, stmt.c.modifier_id)
    return [LinkRow(*row) for row in await session.execute(ordered)]


async def own_links(session: AsyncSession, *, item_id: int) -> list[LinkRow]:
    stmt = select(*LINK_COLUMNS).where(item_modifier.c.item_id == item_id)
    return [LinkRow(*row) for row in await session.execute(stmt)]


async def put_link(
    session: AsyncSession,
    *,
    restaurant_id: int,
    item_id: int,
    modifier_id: int,
    attributes: LinkAttributes,
    max_depth: int,
) -> tuple[LinkRow, bool]:
    """Link item -> modifier, or update the link's attributes; True when it is new."""
    await lock_menu(session, restaurant_id=restaurant_id)
    await get_item(session, restaurant_id=restaurant_id, item_id=item_id)
    modifier = await session.get(Item, modifier_id)
    if modifier is None:
        raise NotFound(f"No item with id {modifier_id}.")
    if modifier.restaurant_id != restaurant_id:
        raise Conflict(
            f"Item {modifier_id} belongs to restaurant {modifier.restaurant_id}: an item's "
            f"modifiers come from its own restaurant ({restaurant_id}).",
            errors=[{"field": "modifier_id", "detail": "Belongs to another restaurant."}],
        )
    links = await own_links(session, item_id=item_id)
    existing = next((k for k in links if k.modifier_id == modifier_id), None)
    if existing is None:
        # A new link: checked against what lies around it (an update changes no edge).
        around = await links_around(session, item_id=item_id, modifier_id=modifier_id)
        edges = [(k.item_id, k.modifier_id) for k in around]
        try:
            check_link(edges, item_id, modifier_id, max_depth=max_depth)
        except GraphViolation as exc:
            names = await _names(session, exc.path)
            raise _violation(exc, names, "modifier_id", max_depth) from None
    position = attributes.position
    if position is None:
        siblings = [k.position for k in links if k.item_id == item_id]
        position = existing.position if existing else max(siblings, default=-1) + 1
    link = LinkRow(
        item_id,
        modifier_id,
        position,
        attributes.min_select,
        attributes.max_select,
        attributes.price_cents,
    )
    values = link_attributes(link)
    if existing is None:
        await session.execute(
            insert(item_modifier).values(item_id=item_id, modifier_id=modifier_id, **values)
        )
    else:
        await session.execute(
            update(item_modifier)
            .where(item_modifier.c.item_id == item_id, item_modifier.c.modifier_id == modifier_id)
            .values(**values)
        )
    return link, existing is None


async def delete_link(
    session: AsyncSession, *, restaurant_id: int, item_id: int, modifier_id: int
) -> None:
    await lock_menu(session, restaurant_id=restaurant_id)
    await get_item(session, restaurant_id=restaurant_id, item_id=item_id)
    result = await session.execute(
        delete(item_modifier).where(
            item_modifier.c.item_id == item_id, item_modifier.c.modifier_id == modifier_id
        )
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound(f"Item {item_id} has no modifier {modifier_id}.")


def check_document(
    items: Sequence[DocumentItem], links: Sequence[DocumentLink], *, max_depth: int
) -> None:
    """The graph invariants of a whole menu document, by key, before anything is written."""
    edges = [(link.item, link.modifier) for link in links]
    try:
        check_graph([item.key for item in items], edges, max_depth=max_depth)
    except GraphViolation as exc:
        names = {item.key: item.fields.name for item in items}
        raise _violation(exc, names, "links", max_depth) from None


async def replace_menu(
    session: AsyncSession,
    *,
    restaurant_id: int,
    items: Sequence[DocumentItem],
    links: Sequence[DocumentLink],
) -> None:
    """Replace every item and link of the menu (items by document key, links by keys)."""
    await lock_menu(session, restaurant_id=restaurant_id)
    await session.execute(delete(Item).where(Item.restaurant_id == restaurant_id))
    if not items:
        return
    rows = [{"restaurant_id": restaurant_id, **item.fields.columns()} for item in items]
    stmt = insert(Item).returning(Item.id, sort_by_parameter_order=True)
    ids = dict(zip((item.key for item in items), await session.scalars(stmt, rows), strict=True))
    if links:
        await session.execute(
            insert(item_modifier),
            [
                {
                    "item_id": ids[link.item],
                    "modifier_id": ids[link.modifier],
                    **link_attributes(link.attributes),
                }
                for link in links
            ],
        )
