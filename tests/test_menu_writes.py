"""Restaurants and items: create, change, delete; every error path; reads see every write."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import AppClient, get_json
from tests.menu_api import AUTH, flat_menu, link, new_items, new_restaurant, write
from userdir.schemas.menu import ITEM_FIELDS_OUT, RESTAURANT_DETAIL_OUT, RESTAURANT_OUT


def fields_of(problem: dict[str, Any]) -> set[str]:
    return {e["field"] for e in problem["errors"]}


async def test_create_restaurant_is_201_with_location(client: AppClient) -> None:
    async with client.post(
        "/restaurant",
        json={"name": "Diner"},
        headers=AUTH,
    ) as response:
        assert response.status == 201
        created = await response.json()
        assert response.headers["Location"] == f"/restaurant/{created['id']}"
    assert RESTAURANT_OUT.dump(created) == created and created["name"] == "Diner"
    shown = await get_json(client, response.headers["Location"], schema=RESTAURANT_DETAIL_OUT)
    assert shown == {"id": created["id"], "name": "Diner", "items": 0, "links": 0}


async def test_restaurant_list_sees_each_write(client: AppClient) -> None:
    assert await get_json(client, "/restaurant") == []
    first = await new_restaurant(client, "A")
    second = await new_restaurant(client, "B")
    assert await get_json(client, "/restaurant") == [
        {"id": first, "name": "A"},
        {"id": second, "name": "B"},
    ]
    await write(client, "PATCH", f"/restaurant/{first}", {"name": "A2"})
    await write(client, "DELETE", f"/restaurant/{second}", expected_status=204)
    assert await get_json(client, "/restaurant") == [{"id": first, "name": "A2"}]
    page = await get_json(client, "/restaurant?pagination=0", expected_status=400)
    assert page["errors"][0]["parameter"] == "pagination"


async def test_health_keeps_its_trailing_slash(client: AppClient) -> None:
    health = await get_json(client, "/restaurant/")
    assert health["status"] == "ok"


async def test_item_lifecycle(client: AppClient) -> None:
    rid = await new_restaurant(client)
    body = {"name": "soup", "description": "of the day", "price_cents": 450, "currency": "EUR"}
    async with client.post(
        f"/restaurant/{rid}/item",
        json=body,
        headers=AUTH,
    ) as response:
        assert response.status == 201
        item = await response.json()
    assert response.headers["Location"] == f"/restaurant/{rid}/item/{item['id']}"
    assert ITEM_FIELDS_OUT.dump(item) == item
    assert item == {"id": item["id"], **body, "available": True}
    path = f"/restaurant/{rid}/item/{item['id']}"
    changed = await write(client, "PATCH", path, {"available": False, "price_cents": None})
    assert changed["available"] is False and changed["price_cents"] is None
    assert changed["description"] == "of the day"  # untouched by the patch
    shown = await get_json(client, path)
    assert shown["available"] is False and shown["modifiers"] == []
    await write(client, "DELETE", path, expected_status=204)
    await get_json(client, path, expected_status=404)
    await write(client, "DELETE", path, expected_status=404)


async def test_deleting_an_item_removes_its_links_both_ways(client: AppClient) -> None:
    rid = await new_restaurant(client)
    a, b, c = await new_items(client, rid, "a", "b", "c")
    await link(client, rid, a, b)
    await link(client, rid, b, c)
    await write(client, "DELETE", f"/restaurant/{rid}/item/{b}", expected_status=204)
    menu = await flat_menu(client, rid)
    assert [i["id"] for i in menu["items"]] == [a, c] and menu["links"] == []


async def test_deleting_a_restaurant_removes_its_menu(client: AppClient) -> None:
    rid = await new_restaurant(client)
    a, b = await new_items(client, rid, "a", "b")
    await link(client, rid, a, b)
    await write(client, "DELETE", f"/restaurant/{rid}", expected_status=204)
    await get_json(client, f"/restaurant/{rid}", expected_status=404)
    await get_json(client, f"/restaurant/{rid}/item", expected_status=404)
    await write(client, "DELETE", f"/restaurant/{rid}", expected_status=404)


async def test_invalid_bodies_are_422_naming_every_field(client: AppClient) -> None:
    rid = await new_restaurant(client)
    bad = {"name": "", "price_cents": -1, "currency": "usd", "available": "yes", "colour": 1}
    problem = await write(client, "POST", f"/restaurant/{rid}/item", bad, expected_status=422)
    assert fields_of(problem) == {"name", "price_cents", "currency", "available", "colour"}
    problem = await write(client, "POST", f"/restaurant/{rid}/item", {}, expected_status=422)
    assert fields_of(problem) == {"name"}
    problem = await write(client, "POST", "/restaurant", {"name": "x" * 201}, expected_status=422)
    assert fields_of(problem) == {"name"}
    problem = await write(client, "POST", "/restaurant", [1, 2], expected_status=422)
    assert fields_of(problem) == {"body"}
    problem = await write(
        client, "PATCH", f"/restaurant/{rid}", {"name": None}, expected_status=422
    )
    assert fields_of(problem) == {"name"}
    # a float is not money
    problem = await write(
        client,
        "POST",
        f"/restaurant/{rid}/item",
        {"name": "x", "price_cents": 1.5},
        expected_status=422,
    )
    assert fields_of(problem) == {"price_cents"}
    # Numbers equal to False and True in Python are still not JSON booleans.
    for number in (0, 1, 0.0, 1.0):
        body = {"name": "x", "available": number}
        problem = await write(client, "POST", f"/restaurant/{rid}/item", body, expected_status=422)
        assert fields_of(problem) == {"available"}, number
    assert (await flat_menu(client, rid))["items"] == []


async def test_malformed_bodies_are_clear_errors(client: AppClient) -> None:
    rid = await new_restaurant(client)
    path = f"/restaurant/{rid}/item"
    await write(client, "POST", path, data=b"{not json", expected_status=415)
    problem = await write(
        client,
        "POST",
        path,
        data=b"{not json",
        headers={"Content-Type": "application/json"},
        expected_status=400,
    )
    assert "JSON" in problem["detail"]
    await write(client, "POST", path, expected_status=400)  # no body at all


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PATCH", "/restaurant/99"),
        ("DELETE", "/restaurant/99"),
        ("POST", "/restaurant/99/item"),
        ("PUT", "/restaurant/99/menu"),
        ("PATCH", "/restaurant/{rid}/item/99"),
        ("DELETE", "/restaurant/{rid}/item/99"),
        ("PUT", "/restaurant/{rid}/item/99/modifiers/{item}"),
        ("PUT", "/restaurant/{rid}/item/{item}/modifiers/99"),
        ("DELETE", "/restaurant/{rid}/item/{item}/modifiers/99"),
        ("DELETE", "/restaurant/{rid}/item/99/modifiers/{item}"),
        ("GET", "/restaurant/99"),
        ("GET", "/restaurant/{rid}/item/99"),
        ("GET", "/restaurant/99/item/{item}"),
        ("GET", "/restaurant/{rid}/item/99999999999"),
    ],
)
async def test_unknown_ids_are_404(client: AppClient, method: str, path: str) -> None:
    rid = await new_restaurant(client)
    (item,) = await new_items(client, rid, "a")
    body: dict[str, object] | None = None
    if path.endswith("/menu"):
        body = {"items": []}
    elif "modifiers" in path:
        body = {} if method == "PUT" else None
    elif method in ("PATCH", "POST"):
        body = {"name": "x"}
    url = path.format(rid=rid, item=item)
    problem = await write(client, method, url, body, expected_status=404)
    assert "99" in problem["detail"]


async def test_an_item_of_another_restaurant_is_not_found_here(client: AppClient) -> None:
    first = await new_restaurant(client, "A")
    second = await new_restaurant(client, "B")
    (item,) = await new_items(client, first, "a")
    await get_json(client, f"/restaurant/{second}/item/{item}", expected_status=404)
    await write(
        client, "PATCH", f"/restaurant/{second}/item/{item}", {"name": "b"}, expected_status=404
    )
    await write(client, "DELETE", f"/restaurant/{second}/item/{item}", expected_status=404)
    assert (await get_json(client, f"/restaurant/{first}/item/{item}"))["name"] == "a"


async def test_a_write_is_visible_to_the_very_next_read(client: AppClient) -> None:
    rid = await new_restaurant(client)
    (a,) = await new_items(client, rid, "a")
    for path in (f"/restaurant/{rid}/item", f"/restaurant/{rid}/item/{a}", f"/restaurant/{rid}"):
        await get_json(client, path)  # now cached
    async with client.get(f"/restaurant/{rid}/item") as response:
        assert response.headers["X-Cache"] == "HIT"
    await write(client, "PATCH", f"/restaurant/{rid}/item/{a}", {"name": "renamed"})
    await write(client, "PATCH", f"/restaurant/{rid}", {"name": "Renamed"})
    assert (await get_json(client, f"/restaurant/{rid}/item"))[0]["name"] == "renamed"
    assert (await get_json(client, f"/restaurant/{rid}/item/{a}"))["name"] == "renamed"
    assert (await get_json(client, f"/restaurant/{rid}"))["name"] == "Renamed"


async def test_a_write_to_one_menu_keeps_the_others_cached(client: AppClient) -> None:
    first = await new_restaurant(client, "A")
    second = await new_restaurant(client, "B")
    await get_json(client, f"/restaurant/{first}/item")
    await new_items(client, second, "b")
    async with client.get(f"/restaurant/{first}/item") as response:
        assert response.headers["X-Cache"] == "HIT"
