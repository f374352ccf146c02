"""Menus: a restaurant, its items and the modifier edges between them, in bulk."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from userdir.errors import NotFound
from userdir.models import Item, Restaurant, item_modifier

Edge = tuple[int, int]


async def get_restaurant(session: AsyncSession, *, restaurant_id: int) -> Restaurant:
    restaurant = await session.get(Restaurant, restaurant_id)
    if restaurant is None:
        raise NotFound(f"No restaurant with id {restaurant_id}.")
    return restaurant


async def list_items(session: AsyncSession, *, restaurant_id: int) -> Sequence[Item]:
    stmt = select(Item).where(Item.restaurant_id == restaurant_id).order_by(Item.id)
    return (await session.scalars(stmt)).all()


async def list_edges(session: AsyncSession, *, restaurant_id: int) -> list[Edge]:
    """Every (item_id, modifier_id) link of the restaurant's items, in one statement."""
    stmt = (
        select(item_modifier.c.item_id, item_modifier.c.modifier_id)
        .join(Item, Item.id == item_modifier.c.item_id)
        .where(Item.restaurant_id == restaurant_id)
        .order_by(item_modifier.c.item_id, item_modifier.c.modifier_id)
    )
    return [(row.item_id, row.modifier_id) for row in await session.execute(stmt)]
