"""The bundled, offline sample data: demo menus and a GitHub users snapshot."""

from __future__ import annotations

from importlib import resources

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from userdir.config import Settings
from userdir.menu.document import load_menu_document
from userdir.queries import menu_writes as writes
from userdir.queries.users import upsert_users
from userdir.schemas.github import GITHUB_USERS_IN

# The sample menus are at most 2 deep: the default bound takes them.
MAX_DEPTH = Settings().max_depth
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


def menu_document(spec: MenuSpec) -> dict[str, object]:
    """A sample menu as the flat document PUT /restaurant/{id}/menu takes."""
    return {
        "items": [{"key": name, "name": name, "price_cents": price} for name, price, _ in spec],
        "links": [
            {"item": name, "modifier": modifier}
            for name, _, modifiers in spec
            for modifier in modifiers
        ],
    }


async def load_menus(session: AsyncSession) -> None:
    """Each sample restaurant, then its menu, written as the API writes them."""
    for name, spec in MENUS.items():
        restaurant = await writes.create_restaurant(session, name=name)
        items, links = load_menu_document(menu_document(spec), max_depth=MAX_DEPTH)
        writes.check_document(items, links, max_depth=MAX_DEPTH)
        await writes.replace_menu(session, restaurant_id=restaurant.id, items=items, links=links)


async def load_sample_data(session: AsyncSession) -> None:
    """Restaurant 1 is Five Guys (burger -> fries, ketchup; fries -> ketchup)."""
    await load_menus(session)
    await upsert_users(session, bundled_users())
