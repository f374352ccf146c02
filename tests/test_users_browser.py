"""The HTML directory in a real headless Chromium: rows, the filter form, next links."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.helpers import AppClient
from tests.services import IN_CI
from tests.user_rows import reference, user_rows
from userdir.queries.users import upsert_users

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROWS = user_rows()
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason}: CI=true requires it (bin/test.sh installs it as root)")
    pytest.skip(f"{reason}: SKIPPED the browser test (bin/test.sh installs it as root)")


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    if not CHROMIUM.is_file():
        _unavailable(f"{CHROMIUM} is missing (Debian package chromium)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()


async def shown_ids(page: Any) -> list[int]:
    return [int(text) for text in await page.locator("td.id").all_inner_texts()]


async def test_browse_filter_and_page(
    client: AppClient, sessionmaker: async_sessionmaker[AsyncSession], browser: Any
) -> None:
    async with sessionmaker.begin() as session:
        await upsert_users(session, ROWS)
    page = await browser.new_page()
    await page.goto(str(client.make_url("/users?pagination=10")))
    assert await page.title() == "Users · userdir"
    assert await shown_ids(page) == [r["id"] for r in reference(ROWS, [], ["id"])[:10]]
    css = await page.evaluate("getComputedStyle(document.querySelector('.pager')).display")
    assert css == "flex"  # the stylesheet came from the app

    row = page.locator(".filter-row").last
    await row.locator(".f-field").select_option("username")
    await row.locator(".f-op").select_option("icontains")
    await row.locator(".f-value").fill("X")
    await page.locator("#order-by").fill("-type,username")
    await page.locator("#page-size").select_option("10")
    async with page.expect_navigation():
        await page.get_by_role("button", name="Apply").click()
    assert "username__icontains=X" in page.url and "order_by=-type%2Cusername" in page.url
    chosen = reference(ROWS, [("username", "icontains", "X")], ["-type", "username"])
    want = [r["id"] for r in chosen]
    assert len(want) > 10
    assert await shown_ids(page) == want[:10]

    async with page.expect_navigation():
        await page.get_by_role("link", name="Next →").click()
    assert "after=" in page.url
    assert await shown_ids(page) == want[10:20]

    async with page.expect_navigation():
        await page.get_by_role("link", name="← Previous").click()
    assert await shown_ids(page) == want[:10]

    async with page.expect_navigation():
        await page.locator("#page-size").select_option("25")
    assert await shown_ids(page) == want[:25]

    async with page.expect_navigation():
        await page.get_by_role("link", name="username").click()
    assert "order_by=username" in page.url

    await page.goto(str(client.make_url("/users?id__gt=abc")))
    assert "id__gt" in await page.locator(".errors").inner_text()
    await page.close()
