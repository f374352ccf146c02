"""Writes need a configured bearer token; reads stay public; refused writes change nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.conftest import API_TOKEN
from tests.helpers import AppClient, MakeClient, get_json, request_json
from tests.menu_api import flat_menu, link_path
from userdir.auth import token_matches
from userdir.sample import load_menus

WRITES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/restaurant", {"name": "Evil"}),
    ("PATCH", "/restaurant/1", {"name": "Evil"}),
    ("DELETE", "/restaurant/1", None),
    ("POST", "/restaurant/1/item", {"name": "evil"}),
    ("PATCH", "/restaurant/1/item/1", {"name": "evil"}),
    ("DELETE", "/restaurant/1/item/1", None),
    ("PUT", link_path(1, 3, 1), {}),
    ("DELETE", link_path(1, 1, 2), None),
    ("PUT", "/restaurant/1/menu", {"items": []}),
]


@pytest.fixture
async def menus(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker.begin() as session:
        await load_menus(session)


async def snapshot(client: AppClient) -> object:
    return await get_json(client, "/restaurant"), await flat_menu(client, 1)


@pytest.mark.usefixtures("menus")
async def test_missing_token_is_401_and_changes_nothing(client: AppClient) -> None:
    before = await snapshot(client)
    for method, path, body in WRITES:
        for headers in ({}, {"Authorization": f"Basic {API_TOKEN}"}, {"Authorization": "Bearer "}):
            async with client.request(method, path, json=body, headers=headers) as response:
                assert response.status == 401, (method, path, headers)
                assert response.headers["WWW-Authenticate"].startswith("Bearer")
                assert response.content_type == "application/problem+json"
    assert await snapshot(client) == before


@pytest.mark.usefixtures("menus")
async def test_wrong_token_is_403_and_changes_nothing(client: AppClient) -> None:
    before = await snapshot(client)
    for method, path, body in WRITES:
        for token in ("wrong", API_TOKEN[:-1], API_TOKEN + "x", "ünïcödé"):
            headers = {"Authorization": f"Bearer {token}"}
            await request_json(
                client, method, path, json=body, headers=headers, expected_status=403
            )
    assert await snapshot(client) == before


@pytest.mark.usefixtures("menus")
async def test_without_configured_tokens_writes_are_refused(make_client: MakeClient) -> None:
    client: AppClient = await make_client(api_tokens=())
    before = await snapshot(client)
    for method, path, body in WRITES:
        for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": f"Bearer {API_TOKEN}"}):
            problem = await request_json(
                client, method, path, json=body, headers=headers, expected_status=403
            )
            assert "USERDIR_API_TOKENS" in problem["detail"]
    assert await snapshot(client) == before


@pytest.mark.usefixtures("menus")
async def test_any_configured_token_works_and_reads_need_none(make_client: MakeClient) -> None:
    client: AppClient = await make_client(api_tokens=("first-token", "second-token"))
    for token in ("first-token", "second-token"):
        headers = {"Authorization": f"bearer {token}"}  # the scheme is case-insensitive
        await request_json(
            client,
            "POST",
            "/restaurant",
            json={"name": token},
            headers=headers,
            expected_status=201,
        )
    names = [r["name"] for r in await get_json(client, "/restaurant")]
    assert names[-2:] == ["first-token", "second-token"]


def test_token_comparison() -> None:
    assert token_matches("b", ("a", "b"))
    assert not token_matches("", ("a",))
    assert not token_matches("ab", ("a", "b"))
    assert not token_matches("é", ("e",))
