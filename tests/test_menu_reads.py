"""Menu reads: flat and nested, one item's subtree, depth marks, and fixed statement counts."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.helpers import AppClient, count_statements, get_json
from tests.menu_api import flat_menu
from userdir.graph import nest
from userdir.keys import DATABASE
from userdir.models import Item, Restaurant, item_modifier
from userdir.schemas.menu import FLAT_MENU_OUT, ITEM_OUT, RESTAURANT_DETAIL_OUT, RESTAURANTS_OUT


async def make_layers(
    sessionmaker: async_sessionmaker[AsyncSession],
    width: int,
    layers: int,
    fanout: int | None = None,
) -> list[list[int]]:
    """Restaurant 1: `layers` layers of `width` items, each linked to `fanout` items of the
    layer below (all of them by default).

    Nesting this shares modifiers everywhere: fanout ** depth entries under each item.
    """
    fanout = width if fanout is None else fanout
    ids = [[layer * width + n + 1 for n in range(width)] for layer in range(layers)]
    async with sessionmaker.begin() as session:
        session.add(Restaurant(id=1, name="Layers"))
        await session.flush()
        session.add_all(
            Item(id=i, restaurant_id=1, name=f"L{layer}-{i}")
            for layer, row in enumerate(ids)
            for i in row
        )
        await session.flush()
        links = [
            {"item_id": p, "modifier_id": lower[(n + k) % width], "position": k}
            for upper, lower in zip(ids, ids[1:], strict=False)
            for n, p in enumerate(upper)
            for k in range(fanout)
        ]
        await session.execute(insert(item_modifier), links)
    return ids


@pytest.mark.usefixtures("sample")
async def test_flat_lists_each_item_once_with_links(client: AppClient) -> None:
    menu = await get_json(client, "/restaurant/1/item?format=flat", schema=FLAT_MENU_OUT)
    assert [i["name"] for i in menu["items"]] == ["burger", "fries", "ketchup"]
    burger = menu["items"][0]
    assert burger["available"] is True and burger["price_cents"] == 899  # JSON types, not 1
    assert burger["description"] is None and menu["items"][2]["price_cents"] is None
    assert [(k["item_id"], k["modifier_id"], k["position"]) for k in menu["links"]] == [
        (1, 2, 0),
        (1, 3, 1),
        (2, 3, 0),
    ]


@pytest.mark.usefixtures("sample")
async def test_one_item_with_its_subtree(client: AppClient) -> None:
    fries = await get_json(client, "/restaurant/1/item/2", schema=ITEM_OUT)
    assert fries["name"] == "fries" and "link" not in fries
    assert [m["name"] for m in fries["modifiers"]] == ["ketchup"]
    assert fries["modifiers"][0]["link"]["position"] == 0
    flat = await get_json(client, "/restaurant/1/item/1?format=flat", schema=FLAT_MENU_OUT)
    assert len(flat["items"]) == 3 and len(flat["links"]) == 3
    sub = await get_json(client, "/restaurant/1/item/2?format=flat")
    assert [i["name"] for i in sub["items"]] == ["fries", "ketchup"]
    assert [(k["item_id"], k["modifier_id"]) for k in sub["links"]] == [(2, 3)]
    cut = await get_json(client, "/restaurant/1/item/1?depth=0")
    assert cut["truncated"] is True and cut["modifiers"] == []
    await get_json(client, "/restaurant/2/item/1", expected_status=404)  # not Pizzeria's


@pytest.mark.usefixtures("sample")
async def test_bad_read_parameters_name_allowed_values(client: AppClient) -> None:
    problem = await get_json(client, "/restaurant/1/item?format=tree&depth=-1", expected_status=400)
    by_name = {e["parameter"]: e for e in problem["errors"]}
    assert by_name["format"]["allowed"] == ["nested", "flat"]
    assert by_name["depth"]["allowed"] == ["0..8"]


@pytest.mark.usefixtures("sample")
async def test_restaurants_list_and_detail(client: AppClient) -> None:
    listed = await get_json(client, "/restaurant", schema=RESTAURANTS_OUT)
    assert [r["name"] for r in listed] == ["Five Guys", "Pizzeria Napoli", "Taqueria Central"]
    async with client.get("/restaurant?pagination=2") as response:
        assert response.headers["X-Total-Count"] == "3"
        assert 'rel="next"' in response.headers["Link"]
        assert len(await response.json()) == 2
    detail = await get_json(client, "/restaurant/1", schema=RESTAURANT_DETAIL_OUT)
    assert detail == {"id": 1, "name": "Five Guys", "items": 3, "links": 3}


async def test_nesting_that_would_explode_is_refused_not_cut(
    make_client: Any, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await make_layers(sessionmaker, width=6, layers=5)  # 30 items; depth 4 nests 6**4 deep
    client: AppClient = await make_client(max_nested_nodes=2000)
    problem = await get_json(client, "/restaurant/1/item?depth=4", expected_status=400)
    error = problem["errors"][0]
    assert error["parameter"] == "depth" and "format=flat" in error["detail"]
    allowed_depth = int(error["allowed"][0].split("..")[1])
    assert 0 < allowed_depth < 4
    data = await get_json(client, f"/restaurant/1/item?depth={allowed_depth}")
    assert len(data) == 30
    flat = await flat_menu(client, 1)
    assert len(flat["links"]) == 4 * 36
    top = await get_json(client, f"/restaurant/1/item/1?depth={allowed_depth + 1}")
    assert len(top["modifiers"]) == 6  # one item's subtree fits where the whole menu did not


def count_nodes(node: dict[str, Any]) -> int:
    return 1 + sum(count_nodes(m) for m in node["modifiers"])


async def test_shared_modifiers_nest_fully_within_the_budget(
    client: AppClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await make_layers(sessionmaker, width=3, layers=4)
    data = await get_json(client, "/restaurant/1/item/1?depth=3")
    assert count_nodes(data) == 1 + 3 + 9 + 27
    leaf = data["modifiers"][0]["modifiers"][0]["modifiers"][0]
    assert leaf["truncated"] is False and leaf["modifiers"] == []
    cut = await get_json(client, "/restaurant/1/item/1?depth=2")
    assert cut["modifiers"][0]["modifiers"][0]["truncated"] is True


@pytest.mark.parametrize("size", [10, 1000])
@pytest.mark.parametrize("path", ["/restaurant/1/item?format=flat", "/restaurant/1/item/1?depth=8"])
async def test_statement_count_is_constant(
    client: AppClient, sessionmaker: async_sessionmaker[AsyncSession], size: int, path: str
) -> None:
    await make_layers(sessionmaker, width=size // 5, layers=5, fanout=2)
    engine = client.app[DATABASE].primary.engine
    with count_statements(engine) as statements:
        await get_json(client, path)
    # restaurant, items, links: the same three at any size (the cache key's data version is
    # known to the process: no statement reads it)
    assert len(statements) == 3, statements
    assert all(s.lstrip().upper().startswith(("SELECT", "WITH")) for s in statements)


def test_every_left_out_modifier_is_marked_even_a_self_link() -> None:
    # The database refuses self-links; the renderer must still never cut a branch unmarked.
    attributes = {"position": 0, "min_select": 0, "max_select": None, "price_cents": None}
    links = [{"item_id": 1, "modifier_id": 1, **attributes}]
    (node,) = nest([{"id": 1, "name": "loop"}], links, depth=3)
    assert node["truncated"] is True and node["modifiers"] == []
