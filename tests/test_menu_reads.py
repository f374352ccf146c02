"""Menu reads: flat and nested, one item's subtree, depth marks, and fixed statement counts."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import orjson
import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.helpers import AppClient, count_statements, get_json
from tests.menu_api import flat_menu
from userdir.keys import DATABASE
from userdir.menu.render import json_list, nest
from userdir.menu.values import ItemRow, LinkRow
from userdir.models import Item, Restaurant, item_modifier
from userdir.queries.menu import nested_totals
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
    for path, missing in [
        ("/restaurant/999/item?format=flat", "No restaurant with id 999."),
        ("/restaurant/999/item/1?format=flat", "No restaurant with id 999."),
        ("/restaurant/2/item/1?format=flat", "No item 1 in restaurant 2."),
        ("/restaurant/1/item/999?format=flat", "No item 999 in restaurant 1."),
    ]:
        problem = await get_json(client, path, expected_status=404)
        assert problem["detail"] == missing


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
@pytest.mark.parametrize(
    ("path", "expected"),
    [
        # the restaurant's existence and the whole document in one statement (the cache key's
        # data version is known to the process: no statement reads it)
        ("/restaurant/1/item?format=flat", 1),
        ("/restaurant/1/item/1?format=flat", 1),
        # ... or the rendering's size, then the subtree's items and links
        ("/restaurant/1/item/1?depth=8", 4),
    ],
)
async def test_statement_count_is_constant(
    client: AppClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    size: int,
    path: str,
    expected: int,
) -> None:
    await make_layers(sessionmaker, width=size // 5, layers=5, fanout=2)
    engine = client.app[DATABASE].primary.engine
    with count_statements(engine) as statements:
        await get_json(client, path)
    assert len(statements) == expected, statements
    assert all(s.lstrip().upper().startswith(("SELECT", "WITH")) for s in statements)


async def test_a_refusal_does_not_load_the_menu_and_is_remembered(
    make_client: Any, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await make_layers(sessionmaker, width=40, layers=5)  # 200 items, 6,400 links
    client: AppClient = await make_client(max_nested_nodes=10_000, cache_ttl=0)
    engine = client.app[DATABASE].primary.engine
    with count_statements(engine) as statements:
        await get_json(client, "/restaurant/1/item?depth=3", expected_status=400)
    # restaurant, the rendering's size: no item or link row is read
    assert len(statements) == 2, statements
    assert not any("item.name" in s or "item_modifier.position" in s for s in statements)
    for path in ("/restaurant/1/item?depth=3", "/restaurant/1/item?depth=2"):
        with count_statements(engine) as statements:
            problem = await get_json(client, path, expected_status=400)
        assert statements == []  # decided from the sizes counted at this data version
        assert problem["errors"][0]["allowed"] == ["0..1"]
    with count_statements(engine) as statements:
        await get_json(client, "/restaurant/1/item/1?depth=3", expected_status=400)
    assert len(statements) == 2, statements  # one item's size is counted on its own
    await get_json(client, "/restaurant/1/item/1?depth=1")  # 41 entries: within the budget


@pytest.mark.parametrize("root", [None, 1, 4])
async def test_counted_sizes_match_the_rendering(
    client: AppClient, sessionmaker: async_sessionmaker[AsyncSession], root: int | None
) -> None:
    await make_layers(sessionmaker, width=3, layers=4, fanout=2)
    path = "/restaurant/1/item" if root is None else f"/restaurant/1/item/{root}"
    async with sessionmaker() as session:
        totals = await nested_totals(session, restaurant_id=1, root=root, depth=4, budget=1_000_000)
    rendered = []
    for depth in range(5):
        data = await get_json(client, f"{path}?depth={depth}")
        rendered.append(sum(map(count_nodes, data if root is None else [data])))
    assert totals == rendered
    async with sessionmaker() as session:
        cut = await nested_totals(session, restaurant_id=1, root=root, depth=4, budget=rendered[1])
    # Counting stops at the first depth past the budget: deeper ones can only be larger.
    assert cut == rendered[:3]


def test_every_left_out_modifier_is_marked_even_a_self_link() -> None:
    # The database refuses self-links; the renderer must still never cut a branch unmarked.
    links = [
        LinkRow(
            item_id=1, modifier_id=1, position=0, min_select=0, max_select=None, price_cents=None
        )
    ]
    (node,) = map(orjson.loads, nest([item_row(1, "loop")], links, depth=3))
    assert node["truncated"] is True and node["modifiers"] == []


@pytest.mark.usefixtures("sample")
@pytest.mark.parametrize(
    "path", ["/restaurant/1/item?format=flat", "/restaurant/1/item?depth=2", "/restaurant/1/item/2"]
)
async def test_an_unchanged_menu_revalidates_without_the_database(
    client: AppClient, path: str
) -> None:
    async with client.get(path) as response:
        assert response.status == 200
        etag = response.headers["ETag"]
    engine = client.app[DATABASE].primary.engine
    with count_statements(engine) as statements:
        async with client.get(path, headers={"If-None-Match": etag}) as response:
            assert response.status == 304 and response.headers["ETag"] == etag
            assert await response.read() == b""
    assert statements == []


def item_row(id_: int, name: str) -> ItemRow:
    return ItemRow(id_, name, description=None, price_cents=None, currency="USD", available=True)


def reference_nest(items: list[ItemRow], links: list[LinkRow], depth: int) -> list[dict[str, Any]]:
    """Nesting as its definition says, node by node with the path from the root."""
    by_id = {item.id: dataclasses.asdict(item) for item in items}
    kids_of: dict[int, list[dict[str, Any]]] = {}
    for link in sorted(
        map(dataclasses.asdict, links), key=lambda k: (k["position"], k["modifier_id"])
    ):
        kids_of.setdefault(link["item_id"], []).append(link)

    def render(item_id: int, remaining: int, path: frozenset[int], link: Any) -> dict[str, Any]:
        node = dict(by_id[item_id])
        if link is not None:
            node["link"] = {
                k: link[k] for k in ("position", "min_select", "max_select", "price_cents")
            }
        kids = kids_of.get(item_id, [])
        shown = (
            [] if remaining == 0 else [k for k in kids if k["modifier_id"] not in path | {item_id}]
        )
        node["truncated"] = len(shown) < len(kids)
        node["modifiers"] = [
            render(k["modifier_id"], remaining - 1, path | {item_id}, k) for k in shown
        ]
        return node

    return [render(item_id, depth, frozenset(), None) for item_id in by_id]


@pytest.mark.parametrize("seed", range(40))
def test_nesting_shares_subtrees_yet_matches_the_definition(seed: int) -> None:
    rng = random.Random(seed)
    count = rng.randint(1, 9)
    items = [item_row(i, f"i{i}") for i in range(1, count + 1)]
    pairs = {(rng.randint(1, count), rng.randint(1, count)) for _ in range(rng.randint(0, 20))}
    if seed % 2:  # acyclic: links only to higher ids
        pairs = {(a, b) for a, b in pairs if a < b}
    links = [
        LinkRow(
            item_id=a,
            modifier_id=b,
            position=rng.randint(0, 3),
            min_select=0,
            max_select=None,
            price_cents=rng.choice([None, 50]),
        )
        for a, b in sorted(pairs)
    ]
    for depth in range(5):
        rendered = orjson.loads(json_list(nest(items, links, depth=depth)))
        assert rendered == reference_nest(items, links, depth)


async def test_flat_text_is_json_escaped_by_the_database(
    client: AppClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    name = 'say "hi"\\ \n\t\x01 é 😀 </script>'
    async with sessionmaker.begin() as session:
        session.add(Restaurant(id=1, name="Odd"))
        await session.flush()
        session.add_all(
            [
                Item(id=1, restaurant_id=1, name=name, description="a\rb", available=False),
                Item(id=2, restaurant_id=1, name="plain", price_cents=0),
            ]
        )
        await session.flush()
        await session.execute(insert(item_modifier), [{"item_id": 1, "modifier_id": 2}])
    flat = await get_json(client, "/restaurant/1/item?format=flat", schema=FLAT_MENU_OUT)
    nested = await get_json(client, "/restaurant/1/item")
    sub = await get_json(client, "/restaurant/1/item/1?format=flat", schema=FLAT_MENU_OUT)
    first = flat["items"][0]
    assert first["name"] == name and first["description"] == "a\rb"
    assert first["available"] is False and first["price_cents"] is None
    assert flat["items"][1]["price_cents"] == 0
    fields = ("id", "name", "description", "price_cents", "currency", "available")
    assert [{k: node[k] for k in fields} for node in nested] == flat["items"] == sub["items"]
    assert (
        flat["links"]
        == sub["links"]
        == [
            {
                "item_id": 1,
                "modifier_id": 2,
                "position": 0,
                "min_select": 0,
                "max_select": None,
                "price_cents": None,
            }
        ]
    )
