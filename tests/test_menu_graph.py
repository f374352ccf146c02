"""Links between items: attributes, and the invariants every write keeps (same restaurant,
no self-link, no cycle, bounded depth), also against concurrent writers."""

from __future__ import annotations

import asyncio

import pytest

from tests.helpers import AppClient, MakeClient, get_json
from tests.menu_api import AUTH, edges, link, link_path, new_items, new_restaurant, write
from userdir.schemas.menu import ITEM_OUT, LINK_OUT


async def test_link_is_201_then_200_and_carries_attributes(client: AppClient) -> None:
    rid = await new_restaurant(client)
    burger, fries, ketchup = await new_items(client, rid, "burger", "fries", "ketchup")
    async with client.put(link_path(rid, burger, fries), headers=AUTH) as response:
        assert response.status == 201
        assert response.headers["Location"] == link_path(rid, burger, fries)
        created = await response.json()
    assert LINK_OUT.dump(created) == created
    assert created == {
        "item_id": burger,
        "modifier_id": fries,
        "position": 0,
        "min_select": 0,
        "max_select": None,
        "price_cents": None,
    }
    # Without a position a new link goes last; a PUT again replaces the attributes.
    added = await link(client, rid, burger, ketchup, {"min_select": 1, "max_select": 3})
    assert added["position"] == 1
    updated = await link(
        client, rid, burger, fries, {"position": 5, "price_cents": 0}, expected_status=200
    )
    assert updated["position"] == 5 and updated["price_cents"] == 0
    tree = await get_json(client, f"/restaurant/{rid}/item/{burger}", schema=ITEM_OUT)
    assert [m["name"] for m in tree["modifiers"]] == ["ketchup", "fries"]  # menu order
    assert tree["modifiers"][0]["link"] == {
        "position": 1,
        "min_select": 1,
        "max_select": 3,
        "price_cents": None,
    }


async def test_link_bodies_are_validated(client: AppClient) -> None:
    rid = await new_restaurant(client)
    a, b = await new_items(client, rid, "a", "b")
    body = {"min_select": 3, "max_select": 2, "position": -1, "price_cents": "1"}
    problem = await link(client, rid, a, b, body, expected_status=422)
    assert {e["field"] for e in problem["errors"]} == {"max_select", "position", "price_cents"}
    assert await edges(client, rid) == set()


async def test_unlink_is_204_then_404(client: AppClient) -> None:
    rid = await new_restaurant(client)
    a, b = await new_items(client, rid, "a", "b")
    await link(client, rid, a, b)
    await write(client, "DELETE", link_path(rid, a, b), expected_status=204)
    assert await edges(client, rid) == set()
    problem = await write(client, "DELETE", link_path(rid, a, b), expected_status=404)
    assert "no modifier" in problem["detail"]


async def test_self_link_is_refused(client: AppClient) -> None:
    rid = await new_restaurant(client)
    (a,) = await new_items(client, rid, "a")
    problem = await link(client, rid, a, a, expected_status=409)
    assert problem["errors"][0]["path"] == [a, a]
    assert await edges(client, rid) == set()


async def test_direct_cycle_is_refused_naming_the_path(client: AppClient) -> None:
    rid = await new_restaurant(client)
    a, b = await new_items(client, rid, "burger", "fries")
    await link(client, rid, a, b)
    problem = await link(client, rid, b, a, expected_status=409)
    assert problem["errors"][0]["path"] == [b, a, b]
    assert f"fries ({b}) -> burger ({a}) -> fries ({b})" in problem["detail"]
    assert await edges(client, rid) == {(a, b)}


async def test_indirect_cycle_is_refused_naming_the_path(client: AppClient) -> None:
    rid = await new_restaurant(client)
    a, b, c, d = await new_items(client, rid, "a", "b", "c", "d")
    for parent, child in [(a, b), (b, c), (c, d)]:
        await link(client, rid, parent, child)
    problem = await link(client, rid, d, a, expected_status=409)
    assert problem["errors"][0]["path"] == [d, a, b, c, d]
    await link(client, rid, a, d)  # a shortcut is no cycle
    assert await edges(client, rid) == {(a, b), (b, c), (c, d), (a, d)}


async def test_cross_restaurant_links_are_refused(client: AppClient) -> None:
    first = await new_restaurant(client, "A")
    second = await new_restaurant(client, "B")
    (a,) = await new_items(client, first, "a")
    (b,) = await new_items(client, second, "b")
    problem = await link(client, first, a, b, expected_status=409)
    assert "another restaurant" in problem["errors"][0]["detail"]
    await link(client, second, a, b, expected_status=404)  # a is not on B's menu
    assert await edges(client, first) == set() and await edges(client, second) == set()


async def chain(client: AppClient, rid: int, length: int) -> list[int]:
    ids = await new_items(client, rid, *(f"i{n}" for n in range(length)))
    for parent, child in zip(ids, ids[1:], strict=False):
        await link(client, rid, parent, child)
    return ids


async def test_depth_limit_is_enforced_from_both_ends(make_client: MakeClient) -> None:
    client: AppClient = await make_client(max_depth=3)
    rid = await new_restaurant(client)
    ids = await chain(client, rid, 4)  # 3 links: at the limit
    (top,) = await new_items(client, rid, "top")
    problem = await link(client, rid, top, ids[0], expected_status=409)
    assert problem["errors"][0]["path"] == [top, *ids]
    assert "4 levels deep" in problem["detail"] and "maximum is 3" in problem["detail"]
    (bottom,) = await new_items(client, rid, "bottom")
    await link(client, rid, ids[-1], bottom, expected_status=409)
    await link(client, rid, ids[1], bottom)  # a side branch within the limit
    data = await get_json(client, f"/restaurant/{rid}/item/{ids[0]}")
    assert data["truncated"] is False  # the default read depth shows a whole valid menu


async def together(client: AppClient, rid: int, *pairs: tuple[int, int]) -> list[int]:
    """PUT the links at the same time, each on its own connection; sorted statuses."""

    async def put(parent: int, child: int) -> int:
        async with client.put(link_path(rid, parent, child), headers=AUTH) as response:
            await response.read()
            return response.status

    return sorted(await asyncio.gather(*(put(*pair) for pair in pairs)))


async def test_concurrent_writers_cannot_close_a_cycle(client: AppClient) -> None:
    rid = await new_restaurant(client)
    for _ in range(5):
        a, b, c = await new_items(client, rid, "a", "b", "c")
        await link(client, rid, b, c)
        # a -> b and c -> a are each fine alone; with b -> c, together they close a cycle.
        assert await together(client, rid, (a, b), (c, a)) == [201, 409]
        links = await edges(client, rid)
        assert len(links & {(a, b), (c, a)}) == 1


async def test_concurrent_direct_cycle_attempts(client: AppClient) -> None:
    rid = await new_restaurant(client)
    for _ in range(5):
        a, b = await new_items(client, rid, "a", "b")
        assert await together(client, rid, (a, b), (b, a)) == [201, 409]
        assert len(await edges(client, rid) & {(a, b), (b, a)}) == 1


@pytest.mark.usefixtures("sample")
async def test_sample_menu_stays_writable(client: AppClient) -> None:
    # Five Guys: burger (1) -> fries (2), ketchup (3); fries -> ketchup.
    problem = await link(client, 1, 3, 1, expected_status=409)
    assert problem["errors"][0]["path"] in ([3, 1, 3], [3, 1, 2, 3])
    await write(client, "DELETE", link_path(1, 2, 3), expected_status=204)
    await link(client, 1, 3, 2)  # with fries -> ketchup gone, ketchup -> fries is no cycle
    problem = await link(client, 1, 2, 3, expected_status=409)
    assert problem["errors"][0]["path"] == [2, 3, 2]
