"""Random filters, orderings and page sizes against a plain-Python model of the same rows,
walking every next link to the end and every prev link back to the start."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import AppClient, relative_link
from tests.user_rows import reference, user_rows

ROWS = user_rows()
FIELDS = ("id", "username", "type", "image_url", "profile_url")
TEXT_OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "icontains", "startswith")
ID_OPERATORS = TEXT_OPERATORS[:7]


def _values(field: str) -> st.SearchStrategy[Any]:
    seen = sorted({r[field] for r in ROWS})
    if field == "id":
        return st.sampled_from(seen) | st.integers(900, 1300)
    fragments = st.sampled_from(seen).flatmap(
        lambda v: st.integers(0, len(v)).flatmap(
            lambda i: st.integers(i, len(v)).map(lambda j: v[i:j])
        )
    )
    return st.sampled_from(seen) | fragments | st.sampled_from(["%", "_", "A", "z", "ü"])


@st.composite
def filters(draw: st.DrawFn) -> list[tuple[str, str, Any]]:
    chosen: dict[str, tuple[str, str, Any]] = {}
    for _ in range(draw(st.integers(0, 2))):
        field = draw(st.sampled_from(FIELDS))
        op = draw(st.sampled_from(ID_OPERATORS if field == "id" else TEXT_OPERATORS))
        if op == "in":
            value: Any = draw(st.lists(_values(field), min_size=1, max_size=4))
            if field != "id":
                value = [v for v in value if "," not in v] or ["none"]
        else:
            value = draw(_values(field))
        chosen[f"{field}__{op}"] = (field, op, value)
    return list(chosen.values())


orderings = st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3, unique=True).flatmap(
    lambda names: st.tuples(*(st.sampled_from([n, f"-{n}"]) for n in names)).map(list)
)


def _query(filters: list[tuple[str, str, Any]], order_by: list[str], size: int) -> dict[str, str]:
    query = {"order_by": ",".join(order_by), "pagination": str(size), "count": "exact"}
    for field, op, value in filters:
        key = field if op == "eq" else f"{field}__{op}"
        query[key] = ",".join(map(str, value)) if op == "in" else str(value)
    return query


async def _walk(client: AppClient, url: str, params: dict[str, str] | None, rel: str) -> Any:
    """Follow `rel` links from `url` to the end: the ids of each page, the last response's
    X-Total-Count and its links."""
    pages: list[list[int]] = []
    current: str | None = url
    while current is not None:
        async with client.get(current, params=params) as response:
            assert response.status == 200, await response.text()
            pages.append([u["id"] for u in await response.json()])
            links = response.links
            total = response.headers.get("X-Total-Count")
        current, params = relative_link(links, rel), None
        assert len(pages) <= len(ROWS) + 1, "the walk does not end"
    return pages, total, links


@pytest.mark.usefixtures("rows")
@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(filters=filters(), order_by=orderings, size=st.integers(3, 25))
async def test_walks_match_the_model(
    client: AppClient, filters: list[tuple[str, str, Any]], order_by: list[str], size: int
) -> None:
    expected = [r["id"] for r in reference(ROWS, filters, order_by)]
    pages, total, links = await _walk(client, "/users", _query(filters, order_by, size), "next")
    assert [i for page in pages for i in page] == expected  # nothing lost or repeated
    assert total == str(len(expected))
    assert all(len(page) == size for page in pages[:-1])
    if len(pages) > 1:
        # From the last page back to the first by `before` cursors: the same pages.
        start = str(links["prev"]["url"].relative())
        back, _, _ = await _walk(client, start, None, "prev")
        assert back[::-1] == pages[:-1]
    else:
        assert "prev" not in links
