"""PUT /restaurant/{id}/menu: a whole menu from one nested or flat document, atomically."""

from __future__ import annotations

import io
from typing import Any

import orjson
import pytest

from tests.helpers import AppClient, MakeClient, get_json
from tests.menu_api import flat_menu, new_items, new_restaurant, write
from userdir.schemas.menu import FLAT_MENU_OUT, ITEMS_OUT

NESTED = {
    "items": [
        {
            "name": "burger",
            "price_cents": 899,
            "modifiers": [
                {
                    "name": "fries",
                    "price_cents": 499,
                    "link": {"min_select": 0, "max_select": 1},
                    "modifiers": [{"key": "ketchup"}],
                },
                {"name": "ketchup", "available": False, "link": {"price_cents": 0}},
            ],
        },
        {"key": "fries"},  # listed again at the top, by reference
    ]
}
FLAT = {
    "items": [
        {"key": "b", "name": "burger", "price_cents": 899},
        {"key": "f", "name": "fries", "price_cents": 499},
        {"key": "k", "name": "ketchup", "available": False},
    ],
    "links": [
        {"item": "b", "modifier": "f", "min_select": 0, "max_select": 1},
        {"item": "b", "modifier": "k", "price_cents": 0},
        {"item": "f", "modifier": "k"},
    ],
}


def names(tree: list[dict[str, Any]]) -> list[Any]:
    return [(node["name"], names(node["modifiers"])) for node in tree]


def shape(menu: dict[str, Any]) -> tuple[Any, ...]:
    """The menu without its ids: items by name and links by names, with attributes."""
    name = {item["id"]: item["name"] for item in menu["items"]}
    items = sorted(
        (i["name"], i["price_cents"], i["currency"], i["available"]) for i in menu["items"]
    )
    links = sorted(
        (
            name[k["item_id"]],
            name[k["modifier_id"]],
            k["position"],
            k["max_select"],
            k["price_cents"],
        )
        for k in menu["links"]
    )
    return tuple(items), tuple(links)


@pytest.mark.parametrize("document", [NESTED, FLAT], ids=["nested", "flat"])
async def test_put_menu_replaces_everything(client: AppClient, document: dict[str, Any]) -> None:
    rid = await new_restaurant(client)
    await new_items(client, rid, "old soup")
    result = await write(client, "PUT", f"/restaurant/{rid}/menu", document)
    assert FLAT_MENU_OUT.dump(result) == result
    assert result == await flat_menu(client, rid)
    assert shape(result) == (
        (
            ("burger", 899, "USD", True),
            ("fries", 499, "USD", True),
            ("ketchup", None, "USD", False),
        ),
        (
            ("burger", "fries", 0, 1, None),
            ("burger", "ketchup", 1, None, 0),
            ("fries", "ketchup", 0, None, None),
        ),
    )
    tree = await get_json(client, f"/restaurant/{rid}/item", schema=ITEMS_OUT)
    assert names(tree) == [
        ("burger", [("fries", [("ketchup", [])]), ("ketchup", [])]),
        ("fries", [("ketchup", [])]),
        ("ketchup", []),
    ]


async def test_put_empty_menu_empties_it(client: AppClient) -> None:
    rid = await new_restaurant(client)
    await write(client, "PUT", f"/restaurant/{rid}/menu", FLAT)
    assert await write(client, "PUT", f"/restaurant/{rid}/menu", {"items": []}) == {
        "items": [],
        "links": [],
    }


BAD_DOCUMENTS = [
    # (document, status, fields or path named)
    ({"items": [{"name": ""}]}, 422, {"items.0.name"}),
    ({"item": []}, 422, {"item", "items"}),
    (
        {"items": [{"name": "a", "modifiers": [{"key": "nowhere"}]}]},
        422,
        {"items.0.modifiers.0.key"},
    ),
    ({"items": [{"name": "a", "link": {}}]}, 422, {"items.0.link"}),
    (
        {"items": [{"name": "a", "price_cents": 1}, {"name": "a", "price_cents": 2}]},
        422,
        {"items.1"},
    ),
    ({"items": [{"price_cents": 1}]}, 422, {"items.0.key"}),
    (
        {"items": [{"key": "a", "name": "a"}], "links": [{"item": "a", "modifier": "b"}]},
        422,
        {"links.0.modifier"},
    ),
    (
        {"items": [{"key": "a", "name": "a"}, {"key": "a", "name": "b"}], "links": []},
        422,
        {"items.1.key"},
    ),
    (
        {
            "items": [{"key": "a", "name": "a"}, {"key": "b", "name": "b"}],
            "links": [
                {"item": "a", "modifier": "b"},
                {"item": "a", "modifier": "b", "position": 4},
            ],
        },
        422,
        {"links.1"},
    ),
    (
        {
            "items": [{"key": "a", "name": "a"}, {"key": "b", "name": "b"}],
            "links": [{"item": "a", "modifier": "b"}, {"item": "b", "modifier": "a"}],
        },
        409,
        {"links"},
    ),
    (
        {"items": [{"key": "a", "name": "a"}], "links": [{"item": "a", "modifier": "a"}]},
        409,
        {"links"},
    ),
    (
        {"items": [{"name": "a", "modifiers": [{"name": "b", "modifiers": [{"key": "a"}]}]}]},
        409,
        {"links"},
    ),
]


@pytest.mark.parametrize(("document", "status", "fields"), BAD_DOCUMENTS)
async def test_a_failing_document_leaves_the_old_menu_intact(
    client: AppClient, document: dict[str, Any], status: int, fields: set[str]
) -> None:
    rid = await new_restaurant(client)
    before = await write(client, "PUT", f"/restaurant/{rid}/menu", FLAT)
    problem = await write(
        client, "PUT", f"/restaurant/{rid}/menu", document, expected_status=status
    )
    assert {e["field"] for e in problem["errors"]} == fields
    assert await flat_menu(client, rid) == before


async def test_a_cyclic_document_names_its_cycle(client: AppClient) -> None:
    rid = await new_restaurant(client)
    document = {
        "items": [{"key": k, "name": k.upper()} for k in "abc"],
        "links": [
            {"item": "a", "modifier": "b"},
            {"item": "b", "modifier": "c"},
            {"item": "c", "modifier": "b"},
        ],
    }
    problem = await write(client, "PUT", f"/restaurant/{rid}/menu", document, expected_status=409)
    assert problem["errors"][0]["path"] in (["b", "c", "b"], ["c", "b", "c"])
    assert "B (b) -> C (c)" in problem["detail"] or "C (c) -> B (b)" in problem["detail"]


async def test_too_deep_documents_are_refused(make_client: MakeClient) -> None:
    client: AppClient = await make_client(max_depth=2)
    rid = await new_restaurant(client)
    flat_chain = {
        "items": [{"key": str(n), "name": str(n)} for n in range(4)],
        "links": [{"item": str(n), "modifier": str(n + 1)} for n in range(3)],
    }
    problem = await write(client, "PUT", f"/restaurant/{rid}/menu", flat_chain, expected_status=409)
    assert problem["errors"][0]["path"] == ["0", "1", "2", "3"]
    # 400 levels: within what the JSON parser takes, far beyond a recursive schema's stack.
    levels = 400
    raw = '{"items": [' + '{"name": "n", "modifiers": [' * levels + "]}" * levels + "]}"
    problem = await write(
        client,
        "PUT",
        f"/restaurant/{rid}/menu",
        data=raw.encode(),
        headers={"Content-Type": "application/json"},
        expected_status=422,
    )
    assert problem["errors"][0]["field"] == "items.0.modifiers.0.modifiers.0.modifiers"
    assert await flat_menu(client, rid) == {"items": [], "links": []}


JSON_BODY = {"Content-Type": "application/json"}


async def test_a_large_menu_document_is_accepted(client: AppClient) -> None:
    """Bodies beyond aiohttp's default 1 MiB are fine for a whole menu; past the limit, 413."""
    restaurant = await new_restaurant(client)
    items = [{"key": f"k{i}", "name": f"item {i}", "description": "x" * 400} for i in range(3000)]
    links = [{"item": f"k{i}", "modifier": f"k{i + 1}"} for i in range(0, 2999, 2)]
    body = orjson.dumps({"items": items, "links": links})
    assert len(body) > 1024 * 1024
    path = f"/restaurant/{restaurant}/menu"
    await write(client, "PUT", path, data=io.BytesIO(body), headers=JSON_BODY)
    menu = await flat_menu(client, restaurant)
    assert len(menu["items"]) == 3000 and len(menu["links"]) == 1500
    huge = orjson.dumps({"items": [{"key": "a", "name": "x" * (17 * 1024 * 1024)}]})
    await write(client, "PUT", path, data=io.BytesIO(huge), headers=JSON_BODY, expected_status=413)
