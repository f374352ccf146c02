"""Helpers for menu tests: authorized writes and a few menus built through the API."""

from __future__ import annotations

from typing import Any

from tests.conftest import API_TOKEN
from tests.helpers import AppClient, get_json, request_json
from userdir.schemas.menu import FLAT_MENU_OUT

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


async def write(
    client: AppClient,
    method: str,
    path: str,
    body: Any = None,
    *,
    expected_status: int = 200,
    **kwargs: Any,
) -> Any:
    headers = {**AUTH, **kwargs.pop("headers", {})}
    if body is not None:
        kwargs["json"] = body
    return await request_json(
        client, method, path, expected_status=expected_status, headers=headers, **kwargs
    )


async def new_restaurant(client: AppClient, name: str = "Diner") -> int:
    data = await write(client, "POST", "/restaurant", {"name": name}, expected_status=201)
    return int(data["id"])


async def new_items(client: AppClient, restaurant_id: int, *names: str) -> list[int]:
    ids = []
    for name in names:
        path = f"/restaurant/{restaurant_id}/item"
        data = await write(client, "POST", path, {"name": name}, expected_status=201)
        ids.append(int(data["id"]))
    return ids


def link_path(restaurant_id: int, item_id: int, modifier_id: int) -> str:
    return f"/restaurant/{restaurant_id}/item/{item_id}/modifiers/{modifier_id}"


async def link(
    client: AppClient,
    restaurant_id: int,
    item_id: int,
    modifier_id: int,
    body: Any = None,
    *,
    expected_status: int = 201,
) -> Any:
    path = link_path(restaurant_id, item_id, modifier_id)
    return await write(client, "PUT", path, body, expected_status=expected_status)


async def flat_menu(client: AppClient, restaurant_id: int) -> dict[str, Any]:
    path = f"/restaurant/{restaurant_id}/item?format=flat"
    data: dict[str, Any] = await get_json(client, path, schema=FLAT_MENU_OUT)
    return data


async def edges(client: AppClient, restaurant_id: int) -> set[tuple[int, int]]:
    menu = await flat_menu(client, restaurant_id)
    return {(k["item_id"], k["modifier_id"]) for k in menu["links"]}
