"""Menus read in bulk: a restaurant, its items and the links between them, as plain rows."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import orjson
from sqlalchemy import (
    CTE,
    Boolean,
    ColumnElement,
    Integer,
    ScalarSelect,
    Select,
    Subquery,
    Text,
    case,
    cast,
    func,
    literal,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from userdir.errors import NotFound
from userdir.menu import gc_pause
from userdir.menu.values import ItemRow, LinkRow, MenuCounts, RestaurantRow
from userdir.models import Item, Restaurant, item_modifier
from userdir.queries import dialect

R = TypeVar("R")

ITEM_COLUMNS = (
    Item.id,
    Item.name,
    Item.description,
    Item.price_cents,
    Item.currency,
    Item.available,
)
LINK_COLUMNS = (
    item_modifier.c.item_id,
    item_modifier.c.modifier_id,
    item_modifier.c.position,
    item_modifier.c.min_select,
    item_modifier.c.max_select,
    item_modifier.c.price_cents,
)
# The primary key's order, so no sort: menu order (position) is applied where links nest.
LINK_ORDER = (item_modifier.c.item_id, item_modifier.c.modifier_id)


async def _rows(
    session: AsyncSession, stmt: Select[*tuple[object, ...]], into: Callable[..., R]
) -> list[R]:
    # Typed rows from Core rows on the session's connection, the selected columns in the
    # order of `into`'s fields: session.execute would route even a column select through
    # the ORM, several times slower on 50,000 links.
    result = await (await session.connection()).execute(stmt)
    with gc_pause.paused():
        return [into(*row) for row in result.all()]


async def get_restaurant(
    session: AsyncSession, *, restaurant_id: int, for_update: bool = False
) -> Restaurant:
    # with_for_update also makes get() query rather than trust the identity map.
    restaurant = await session.get(Restaurant, restaurant_id, with_for_update=for_update or None)
    if restaurant is None:
        raise NotFound(f"No restaurant with id {restaurant_id}.")
    return restaurant


async def list_restaurants(
    session: AsyncSession, *, limit: int, offset: int
) -> list[RestaurantRow]:
    stmt = select(Restaurant.id, Restaurant.name).order_by(Restaurant.id)
    return await _rows(session, stmt.limit(limit).offset(offset), RestaurantRow)


async def count_restaurants(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(Restaurant))).scalar_one())


async def list_items(session: AsyncSession, *, restaurant_id: int) -> list[ItemRow]:
    stmt = select(*ITEM_COLUMNS).where(Item.restaurant_id == restaurant_id).order_by(Item.id)
    return await _rows(session, stmt, ItemRow)


async def list_links(session: AsyncSession, *, restaurant_id: int) -> list[LinkRow]:
    """Every link of the restaurant's items, in one statement."""
    stmt = (
        select(*LINK_COLUMNS)
        .join(Item, Item.id == item_modifier.c.item_id)
        .where(Item.restaurant_id == restaurant_id)
        .order_by(*LINK_ORDER)
    )
    return await _rows(session, stmt, LinkRow)


def _reachable(restaurant_id: int, item_id: int, depth: int | None) -> CTE:
    """A recursive CTE of the item and what lies below it, `depth` levels down at most
    (None: everything). UNION drops repeated rows, so it ends on any graph."""
    root = (Item.id == item_id) & (Item.restaurant_id == restaurant_id)
    if depth is None:
        # Unbounded: no level column, so each item is visited once.
        reach = select(Item.id).where(root).cte("reach", recursive=True)
        below = item_modifier.c.item_id == reach.c.id
        return reach.union(select(item_modifier.c.modifier_id).join(reach, below))
    start = select(Item.id, literal(0).label("level")).where(root)
    reach = start.cte("reach", recursive=True)
    below = item_modifier.c.item_id == reach.c.id
    step = select(item_modifier.c.modifier_id, reach.c.level + 1).join(reach, below)
    return reach.union(step.where(reach.c.level < depth))


async def list_subtree_items(
    session: AsyncSession, *, restaurant_id: int, item_id: int, depth: int | None
) -> list[ItemRow]:
    reach = _reachable(restaurant_id, item_id, depth)
    stmt = (
        select(*ITEM_COLUMNS)
        .where(Item.id.in_(select(reach.c.id)), Item.restaurant_id == restaurant_id)
        .order_by(Item.id)
    )
    items = await _rows(session, stmt, ItemRow)
    if not any(item.id == item_id for item in items):
        raise NotFound(f"No item {item_id} in restaurant {restaurant_id}.")
    return items


async def list_subtree_links(
    session: AsyncSession, *, restaurant_id: int, item_id: int, depth: int | None
) -> list[LinkRow]:
    """The links of every item in the subtree, the deepest level's too: they show where
    nesting was cut."""
    reach = _reachable(restaurant_id, item_id, depth)
    stmt = (
        select(*LINK_COLUMNS)
        .where(item_modifier.c.item_id.in_(select(reach.c.id)))
        .order_by(*LINK_ORDER)
    )
    return await _rows(session, stmt, LinkRow)


async def count_menu(session: AsyncSession, *, restaurant_id: int) -> MenuCounts:
    items = select(func.count()).where(Item.restaurant_id == restaurant_id).scalar_subquery()
    links = (
        select(func.count())
        .select_from(item_modifier)
        .join(Item, Item.id == item_modifier.c.item_id)
        .where(Item.restaurant_id == restaurant_id)
        .scalar_subquery()
    )
    row = (await session.execute(select(items.label("items"), links.label("links")))).one()
    return MenuCounts(items=int(row.items), links=int(row.links))


def _json_array(connection: AsyncConnection, rows: Subquery) -> ScalarSelect[str]:
    """One JSON array text of the subquery's rows, as objects keyed by column name."""
    if dialect(connection) == "sqlite":
        # SQLite keeps the subquery's order; json() turns 0/1 into false/true.
        pairs = []
        for column in rows.c:
            value: ColumnElement[object] = column
            if isinstance(column.type, Boolean):
                value = func.json(case((column, "true"), else_="false"))
            pairs += [literal(column.name), value]
        array = func.json_group_array(func.json_object(*pairs))
        return select(func.coalesce(cast(array, Text), "[]")).scalar_subquery()
    # The subquery is already sorted and PostgreSQL aggregates a sorted subquery in its
    # order; an ORDER BY inside the aggregate would sort the 50,000 links a second time
    # (PostgreSQL 15 does not reuse presorted input), nearly doubling the query's time.
    # Each object is concatenated from its values' JSON texts: about 40% less time than
    # row_to_json or json_agg, and compact as SQLite and orjson write it.
    obj: ColumnElement[str] = literal("{")
    for index, column in enumerate(rows.c):
        key = ("," if index else "") + orjson.dumps(column.name).decode() + ":"
        obj = obj + literal(key) + _json_value(column)
    objects = func.string_agg(obj + literal("}"), ",")
    return select(literal("[") + func.coalesce(objects, "") + literal("]")).scalar_subquery()


def _json_value(column: ColumnElement[object]) -> ColumnElement[str]:
    """A PostgreSQL column's value as JSON text."""
    if isinstance(column.type, Boolean):
        return case((column.is_(True), "true"), (column.is_(False), "false"), else_="null")
    if isinstance(column.type, Integer):
        return func.coalesce(cast(column, Text), "null")
    return func.coalesce(cast(func.to_json(column), Text), "null")


async def _flat_json(
    connection: AsyncConnection,
    restaurant_id: int,
    items: Select[*tuple[object, ...]],
    links: Select[*tuple[object, ...]],
) -> bytes:
    """The flat document of these items and links, serialized by the database in one
    statement that also tells whether the restaurant exists (NotFound if not): with 50,000
    links, building a dict per row in Python costs several times what the query does."""
    found = select(Restaurant.id).where(Restaurant.id == restaurant_id).exists()
    arrays = select(
        found,
        _json_array(connection, items.subquery("item_row")),
        _json_array(connection, links.subquery("link_row")),
    )
    row = (await connection.execute(arrays)).one()
    if not row[0]:
        raise NotFound(f"No restaurant with id {restaurant_id}.")
    items_json: str = row[1]
    links_json: str = row[2]
    return b'{"items":' + items_json.encode() + b',"links":' + links_json.encode() + b"}"


async def flat_menu_json(connection: AsyncConnection, *, restaurant_id: int) -> bytes:
    items = select(*ITEM_COLUMNS).where(Item.restaurant_id == restaurant_id).order_by(Item.id)
    links = (
        select(*LINK_COLUMNS)
        .join(Item, Item.id == item_modifier.c.item_id)
        .where(Item.restaurant_id == restaurant_id)
        .order_by(*LINK_ORDER)
    )
    return await _flat_json(connection, restaurant_id, items, links)


async def flat_subtree_json(
    connection: AsyncConnection, *, restaurant_id: int, item_id: int
) -> bytes:
    """The item and everything below it, flat, in one statement: the recursive walk runs once
    and both arrays read it."""
    reach = select(_reachable(restaurant_id, item_id, None).c.id)
    items = (
        select(*ITEM_COLUMNS)
        .where(Item.id.in_(reach), Item.restaurant_id == restaurant_id)
        .order_by(Item.id)
    )
    links = select(*LINK_COLUMNS).where(item_modifier.c.item_id.in_(reach)).order_by(*LINK_ORDER)
    body = await _flat_json(connection, restaurant_id, items, links)
    if body.startswith(b'{"items":[]'):
        raise NotFound(f"No item {item_id} in restaurant {restaurant_id}.")
    return body


async def nested_totals(
    session: AsyncSession, *, restaurant_id: int, root: int | None, depth: int, budget: int
) -> list[int]:
    """How many entries a nested rendering has at depth 0, 1, ... up to `depth`, counted by
    the database without loading the menu: the restaurant's items as roots, or `root` alone.

    Entries at level k are the walks of k links from a root, so each level sums, per item,
    the walks that reach it. Once the running total passes `budget` the levels below are not
    computed (they could only be larger) and the list ends there; per-item counts are capped
    at `budget + 1`, so no sum grows without bound. On a cycle this over-counts (rendering
    stops at a repeat): a safe bound.
    """
    cap = budget + 1
    start = select(Item.id.label("node"), literal(1).label("walks")).where(
        Item.restaurant_id == restaurant_id
    )
    if root is not None:
        start = start.where(Item.id == root)
    level = start.cte("level_0")
    total = select(func.coalesce(func.sum(level.c.walks), 0).label("total")).cte("total_0")
    totals = [total]
    for k in range(1, depth + 1):
        walks = func.sum(level.c.walks)
        step = (
            select(
                item_modifier.c.modifier_id.label("node"),
                case((walks > cap, cap), else_=walks).label("walks"),
            )
            .join(level, item_modifier.c.item_id == level.c.node)
            # A one-time filter: the database skips the join once the budget is spent.
            .where(select(total.c.total).scalar_subquery() <= budget)
            .group_by(item_modifier.c.modifier_id)
        )
        level = step.cte(f"level_{k}")
        added = select(func.coalesce(func.sum(level.c.walks), 0)).scalar_subquery()
        total = select((total.c.total + added).label("total")).cte(f"total_{k}")
        totals.append(total)
    stmt = select(*(select(t.c.total).scalar_subquery() for t in totals))
    row = (await (await session.connection()).execute(stmt)).one()
    counted = [int(value) for value in row]
    over = next((k for k, value in enumerate(counted) if value > budget), None)
    return counted if over is None else counted[: over + 1]
