"""The bundled, offline sample data: demo menus and a GitHub users snapshot."""

from __future__ import annotations

from importlib import resources

import orjson
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from userdir.datasets import RESTAURANTS, menu
from userdir.models import Item, Restaurant, item_modifier
from userdir.queries.users import upsert_users
from userdir.queries.versions import bump_version
from userdir.schemas.github import GITHUB_USERS_IN

# restaurant -> [(item, price in cents, [its modifiers])]
MenuSpec = list[tuple[str, int | None, list[str]]]
MENUS: dict[str, MenuSpec] = {
    "Five Guys": [
        ("burger", 899, ["fries", "ketchup"]),
        ("fries", 499, ["ketchup"]),
        ("ketchup", None, []),
    ],
    "Pizzeria Napoli": [
        ("margherita", 1050, ["toppings"]),
        ("diavola", 1250, ["toppings", "chili oil"]),
        ("toppings", None, ["basil", "extra mozzarella", "chili oil"]),
        ("basil", 50, []),
        ("extra mozzarella", 150, []),
        ("chili oil", 0, []),
    ],
    "Taqueria Central": [
        ("combo", 1200, ["taco al pastor", "burrito"]),
        ("taco al pastor", 350, ["salsas", "guacamole"]),
        ("burrito", 900, ["salsas", "guacamole"]),
        ("guacamole", 200, ["salsas"]),
        ("salsas", None, ["salsa verde", "salsa roja"]),
        ("salsa verde", 0, []),
        ("salsa roja", 0, []),
    ],
}


def bundled_users() -> list[dict[str, object]]:
    raw = resources.files("userdir").joinpath("data/github-users.json").read_bytes()
    rows: list[dict[str, object]] = GITHUB_USERS_IN.load(orjson.loads(raw))
    return rows


async def load_menus(session: AsyncSession) -> None:
    for name, spec in MENUS.items():
        restaurant = Restaurant(name=name)
        session.add(restaurant)
        await session.flush()
        items = {n: Item(restaurant_id=restaurant.id, name=n, price_cents=p) for n, p, _ in spec}
        session.add_all(items.values())
        await session.flush()
        links = [
            {"item_id": items[n].id, "modifier_id": items[m].id, "position": position}
            for n, _, modifiers in spec
            for position, m in enumerate(modifiers)
        ]
        await session.execute(insert(item_modifier), links)
        await bump_version(session, menu(restaurant.id))
    await bump_version(session, RESTAURANTS)


async def load_sample_data(session: AsyncSession) -> None:
    """Restaurant 1 is Five Guys (burger -> fries, ketchup; fries -> ketchup)."""
    await load_menus(session)
    await upsert_users(session, bundled_users())
