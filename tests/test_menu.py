from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.helpers import AppClient, count_statements, get_json
from userdir.keys import DATABASE
from userdir.models import Item, Restaurant, item_modifier
from userdir.models.base import Base
from userdir.schemas.menu import ITEMS_OUT


def names(tree: list[dict[str, Any]]) -> list[Any]:
    return [(node["name"], names(node["modifiers"])) for node in tree]


@pytest.mark.usefixtures("sample")
async def test_five_guys_graph_from_the_guide(client: AppClient) -> None:
    data = await get_json(client, "/restaurant/1/item", schema=ITEMS_OUT)
    assert names(data) == [
        ("burger", [("fries", [("ketchup", [])]), ("ketchup", [])]),
        ("fries", [("ketchup", [])]),
        ("ketchup", []),
    ]
    burger = data[0]
    assert burger["price_cents"] == 899 and burger["currency"] == "USD"
    assert burger["truncated"] is False


@pytest.mark.usefixtures("sample")
async def test_unknown_restaurant_is_404(client: AppClient) -> None:
    problem = await get_json(client, "/restaurant/999/item", expected_status=404)
    assert "999" in problem["detail"]
    await get_json(client, "/restaurant/99999999999999999999/item", expected_status=404)
    await get_json(client, "/restaurant/abc/item", expected_status=404)


async def test_restaurant_without_items_is_empty(
    client: AppClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with sessionmaker.begin() as session:
        session.add(Restaurant(id=5, name="Empty"))
    assert await get_json(client, "/restaurant/5/item") == []


async def make_chain(
    sessionmaker: async_sessionmaker[AsyncSession], length: int, cycle: bool = False
) -> None:
    """One restaurant whose items form a chain 1 -> 2 -> ... -> length (-> 1 if cycle)."""
    async with sessionmaker.begin() as session:
        session.add(Restaurant(id=1, name="Chain"))
        await session.flush()
        session.add_all(Item(id=i, restaurant_id=1, name=f"i{i}") for i in range(1, length + 1))
        await session.flush()
        links = [{"item_id": i, "modifier_id": i + 1} for i in range(1, length)]
        if cycle:
            links.append({"item_id": length, "modifier_id": 1})
        await session.execute(insert(item_modifier), links)


def depth_of(node: dict[str, Any]) -> int:
    return 1 + max((depth_of(m) for m in node["modifiers"]), default=0)


async def test_a_cycle_renders_and_is_marked(
    client: AppClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await make_chain(sessionmaker, 3, cycle=True)
    data = await get_json(client, "/restaurant/1/item", schema=ITEMS_OUT)
    first = data[0]
    assert names([first]) == [("i1", [("i2", [("i3", [])])])]
    assert first["modifiers"][0]["modifiers"][0]["truncated"] is True


async def test_depth_is_capped_and_marked(
    client: AppClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await make_chain(sessionmaker, 20)
    data = await get_json(client, "/restaurant/1/item")
    assert depth_of(data[0]) == 9  # the root plus the default maximum depth of 8
    shallow = await get_json(client, "/restaurant/1/item?depth=2")
    assert depth_of(shallow[0]) == 3
    leaf = shallow[0]["modifiers"][0]["modifiers"][0]
    assert leaf["truncated"] is True and leaf["modifiers"] == []
    await get_json(client, "/restaurant/1/item?depth=9", expected_status=400)


@pytest.mark.parametrize("size", [10, 1000])
async def test_statement_count_is_constant(
    client: AppClient, sessionmaker: async_sessionmaker[AsyncSession], size: int
) -> None:
    await make_chain(sessionmaker, size)
    engine = client.app[DATABASE].primary.engine
    with count_statements(engine) as statements:
        data = await get_json(client, "/restaurant/1/item?depth=3")
    assert len(data) == size
    # restaurant, nested sizes, items, edges: the same four at any size, no writes (the cache
    # key's data version is known to the process: no statement reads it)
    assert len(statements) == 4, statements
    assert all(s.lstrip().upper().startswith(("SELECT", "WITH")) for s in statements)


def test_no_relationship_can_load_lazily() -> None:
    # Relationships are loaded only as the queries choose: a hidden load would be an N+1.
    relationships = [r for mapper in Base.registry.mappers for r in mapper.relationships]
    assert relationships
    assert {str(r): r.lazy for r in relationships} == {
        str(r): "raise_on_sql" for r in relationships
    }
