"""The users directory as an HTML page, and errors as readable pages for browsers."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.helpers import AppClient, get_json
from tests.user_rows import reference, user_rows
from userdir.directory import USER_FIELDS
from userdir.queries.users import upsert_users
from userdir.schemas.users import OPERATORS

ROWS = user_rows()
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


async def page(client: AppClient, url: str, status: int = 200) -> str:
    async with client.get(url, headers=BROWSER) as response:
        text = await response.text()
        assert response.status == status, text
        assert response.content_type == "text/html"
    return text


def hrefs(text: str, rel: str) -> list[str]:
    return [html.unescape(h) for h in re.findall(rf'rel="{rel}" href="([^"]+)"', text)]


@pytest.mark.usefixtures("rows")
async def test_page_lists_rows_with_links_and_navigation(client: AppClient) -> None:
    text = await page(client, "/users?type=User&order_by=-username&pagination=10")
    want = reference(ROWS, [("type", "eq", "User")], ["-username"])
    shown = [int(i) for i in re.findall(r'<td class="id">(\d+)</td>', text)]
    assert shown == [r["id"] for r in want[:10]]
    first = want[0]
    assert f'<a href="{first["profile_url"]}" rel="noopener noreferrer">' in text
    assert f'<img src="{first["image_url"]}"' in text
    assert '<link rel="stylesheet" href="/static/userdir.css">' in text
    (next_url,) = hrefs(text, "next")
    assert "type=User" in next_url and "order_by=-username" in next_url and "after=" in next_url
    following = await page(client, next_url)
    shown = [int(i) for i in re.findall(r'<td class="id">(\d+)</td>', following)]
    assert shown == [r["id"] for r in want[10:20]]
    (prev_url,) = hrefs(following, "prev")
    assert "before=" in prev_url and "type=User" in prev_url


@pytest.mark.usefixtures("rows")
async def test_form_covers_every_field_and_operator(client: AppClient) -> None:
    text = await page(client, "/users?username__icontains=ali&pagination=50")
    for field in USER_FIELDS:
        assert f'<option value="{field}"' in text
    for operator in {op for ops in OPERATORS.values() for op in ops} | {"eq"}:
        assert f'<option value="{operator}"' in text
    assert '<option value="icontains" selected' in text
    assert 'value="ali"' in text
    assert '<option value="50" selected>' in text
    # Headers keep the filters and page size; the current sort column (id) reverses.
    assert (
        'class="sort asc" href="/users?username__icontains=ali&amp;pagination=50&amp;order_by=-id"'
        in text
    )
    assert 'href="/users?username__icontains=ali&amp;pagination=50&amp;order_by=username"' in text


@pytest.mark.usefixtures("rows")
async def test_sorted_header_links_reverse(client: AppClient) -> None:
    text = await page(client, "/users?order_by=username")
    assert 'class="sort asc" href="/users?order_by=-username"' in text


@pytest.mark.usefixtures("rows")
async def test_empty_state(client: AppClient) -> None:
    text = await page(client, "/users?username=nobody-at-all")
    assert "No users match these filters." in text
    assert 'rel="next"' not in text


async def test_values_are_escaped_and_unsafe_urls_not_linked(
    client: AppClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    evil = {
        "id": 66,
        "username": "<script>alert(1)</script>",
        "type": '"><b>',
        "image_url": "javascript:alert(2)",
        "profile_url": "javascript:alert(3)",
    }
    async with sessionmaker.begin() as session:
        await upsert_users(session, [evil])
    text = await page(client, '/users?type__contains="><b')
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "javascript:" not in text
    assert '"><b>' not in text


async def test_static_css_is_served(client: AppClient) -> None:
    async with client.get("/static/userdir.css") as response:
        assert response.status == 200
        assert response.content_type == "text/css"
        assert "table.users" in await response.text()


async def test_errors_are_readable_pages_for_browsers(client: AppClient) -> None:
    text = await page(client, "/users?id__gt=abc&typ=User", status=400)
    assert "<h1>400 Bad Request</h1>" in text
    assert "<code>id__gt</code>: Not a valid integer." in text
    assert "Did you mean <code>type</code>?" in text
    text = await page(client, "/users?order_by=<script>", status=400)
    assert "<script>" not in text
    await page(client, "/nowhere", status=404)
    # API clients keep problem+json.
    await get_json(client, "/users?id__gt=abc", expected_status=400)
