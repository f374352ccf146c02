"""CSV export of /users beyond one batch of the server-side cursor: every row, in order, from a
cursor on, and every cell a spreadsheet would run as a formula neutralised."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.helpers import AppClient, relative_link
from tests.user_rows import reference
from userdir.queries.users import upsert_users

TOTAL = 2_345  # more than two batches of 1,000
HEADER = ["id", "username", "type", "image_url", "profile_url"]
# What a spreadsheet reads as the start of a formula (README: = + - @, and tab and CR).
PREFIXES = ["=", "+", "-", "@", "\t", "\r"]


def many_rows() -> list[dict[str, Any]]:
    rows = []
    for n in range(1, TOTAL + 1):
        prefix = PREFIXES[n % 7] if n % 7 < len(PREFIXES) else ""  # every 7th name is plain
        rows.append(
            {
                "id": n * 3,
                "username": f"{prefix}u{n * 7919 % TOTAL:05d}",  # not in id order
                "type": ["User", "Organization"][n % 2],
                "image_url": f"{PREFIXES[n % 6]}img{n}" if n % 100 == 0 else f"https://i.test/{n}",
                "profile_url": f"https://p.test/{n}",
            }
        )
    return rows


ROWS = many_rows()


@pytest.fixture
async def rows(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker.begin() as session:
        await upsert_users(session, ROWS)


pytestmark = pytest.mark.usefixtures("rows")


def neutral(value: Any) -> str:
    """A cell as the export must write it: text a spreadsheet would evaluate gets a `'`."""
    text = str(value)
    return "'" + text if text[:1] in PREFIXES else text


def cells(rows: list[dict[str, Any]]) -> list[list[str]]:
    return [[neutral(row[field]) for field in HEADER] for row in rows]


async def export(client: AppClient, url: str) -> list[list[str]]:
    async with client.get(url) as response:
        assert response.status == 200, await response.text()
        assert response.content_type == "text/csv"
        body = await response.read()
    table = list(csv.reader(io.StringIO(body.decode(), newline="")))
    assert table[0] == HEADER
    return table[1:]


async def test_every_row_beyond_one_batch_in_order(client: AppClient) -> None:
    assert await export(client, "/users?format=csv") == cells(reference(ROWS, [], ["id"]))
    want = reference(ROWS, [("type", "eq", "User")], ["-username"])
    assert len(want) > 1_000
    assert await export(client, "/users?format=csv&type=User&order_by=-username") == cells(want)


async def test_export_resumes_from_a_cursor(client: AppClient) -> None:
    async with client.get("/users?order_by=username&pagination=100&page_number=3") as response:
        assert response.status == 200
        last = (await response.json())[-1]["username"]
    async with client.get("/users?order_by=username&pagination=100") as response:
        url = relative_link(response.links, "next")
    for _ in range(2):  # two pages on: a cursor after the 300th row
        assert url is not None
        async with client.get(url) as response:
            url = relative_link(response.links, "next")
    assert url is not None
    ordered = reference(ROWS, [], ["username"])
    assert ordered[299]["username"] == last
    assert "after=" in url
    assert await export(client, f"{url}&format=csv") == cells(ordered[300:])


async def test_every_formula_prefix_is_neutralised(client: AppClient) -> None:
    table = await export(client, "/users?format=csv")
    starts = {row[1][1] for row in table if row[1].startswith("'")}
    starts |= {row[3][1] for row in table if row[3].startswith("'")}
    assert starts == set(PREFIXES)  # each prefix was written, in username and in image_url
    assert all(not cell.startswith(tuple(PREFIXES)) for row in table for cell in row)
