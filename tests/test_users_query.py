"""The /users query grammar: operators, ordering, cursors, counts, conditional requests."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.helpers import (
    AppClient,
    count_statements,
    error_parameters,
    eventually,
    get_json,
    link_url,
    relative_link,
)
from tests.user_rows import reference, user_rows
from userdir.datasets import USERS
from userdir.keys import DATABASE
from userdir.models import DataVersion
from userdir.queries.users import upsert_users
from userdir.queries.versions import bump_version, get_version
from userdir.schemas.users import USERS_OUT

ROWS = user_rows()


pytestmark = pytest.mark.usefixtures("rows")


async def ids(client: AppClient, query: dict[str, str]) -> list[int]:
    data = await get_json(client, "/users", params={"pagination": "100", **query}, schema=USERS_OUT)
    return [u["id"] for u in data]


def expected(*filters: tuple[str, str, Any], order_by: tuple[str, ...] = ("id",)) -> list[int]:
    return [r["id"] for r in reference(ROWS, filters, list(order_by))]


OPERATOR_CASES: list[tuple[dict[str, str], list[tuple[str, str, Any]]]] = [
    ({"id__gt": "1050"}, [("id", "gt", 1050)]),
    ({"id__gte": "1050", "id__lt": "1100"}, [("id", "gte", 1050), ("id", "lt", 1100)]),
    ({"id__lte": "1010"}, [("id", "lte", 1010)]),
    ({"type__ne": "User"}, [("type", "ne", "User")]),
    ({"type__in": "Bot,Organization"}, [("type", "in", ["Bot", "Organization"])]),
    ({"username__gt": "x"}, [("username", "gt", "x")]),
    ({"username__contains": "%"}, [("username", "contains", "%")]),
    ({"username__contains": "_"}, [("username", "contains", "_")]),
    ({"username__startswith": "b_"}, [("username", "startswith", "b_")]),
    ({"username__startswith": "Z"}, [("username", "startswith", "Z")]),
    ({"username__icontains": "MIXED"}, [("username", "icontains", "MIXED")]),
    ({"username__icontains": "ali"}, [("username", "icontains", "ali")]),
    ({"image_url__contains": "/%"}, [("image_url", "contains", "/%")]),
    ({"profile_url__icontains": "/a"}, [("profile_url", "icontains", "/a")]),
    ({"profile_url": "https://p.test/_"}, [("profile_url", "eq", "https://p.test/_")]),
]


async def test_operators(client: AppClient) -> None:
    for query, filters in OPERATOR_CASES:
        want = expected(*filters)
        assert want, f"{query} must select something"
        assert len(want) < len(ROWS) or filters[0][1] in ("ne", "gt")
        assert await ids(client, query) == want, query


async def test_wildcards_match_only_themselves(client: AppClient) -> None:
    found = await get_json(client, "/users?username__contains=%25&pagination=100")
    assert sorted(u["username"] for u in found) == sorted(
        r["username"] for r in ROWS if "%" in r["username"]
    )
    assert await ids(client, {"username__startswith": "_"}) == []


async def test_icontains_folds_ascii_only(client: AppClient) -> None:
    names = {u["username"] for u in await get_json(client, "/users?username__icontains=ünï")}
    assert names == {"ünïcödé", "ünïcödé-1"}  # Ü is not folded: same on both databases
    names = {u["username"] for u in await get_json(client, "/users?username__icontains=ZED")}
    assert names == {"zed", "Zed", "zed-1", "Zed-1"}


async def test_contains_is_case_sensitive(client: AppClient) -> None:
    names = {u["username"] for u in await get_json(client, "/users?username__contains=Eve")}
    assert names == {"Eve", "Eve-1"}


async def test_multi_field_ordering_with_id_last(client: AppClient) -> None:
    order = ("-type", "username")
    assert await ids(client, {"order_by": "-type,username"}) == expected(order_by=order)
    order2 = ("image_url", "-profile_url")
    assert await ids(client, {"order_by": ",".join(order2)}) == expected(order_by=order2)
    assert await ids(client, {"order_by": "-id"}) == expected(order_by=("-id",))
    assert await ids(client, {"order_by": "-id,type"}) == expected(order_by=("-id",))


BAD_GRAMMAR = [
    ("id__gt=abc", {"id__gt"}),
    ("id__in=1,x", {"id__in"}),
    ("id__contains=1", {"id__contains"}),
    ("username__like=a", {"username__like"}),
    ("order_by=type,type", {"order_by"}),
    ("order_by=-", {"order_by"}),
    ("order_by=", {"order_by"}),
    # Nothing after id changes the order, but what follows it is still checked.
    ("order_by=id,nonsense", {"order_by"}),
    ("order_by=-id,id", {"order_by"}),
    ("count=maybe", {"count"}),
    ("format=xml", {"format"}),
    ("after=abc&before=abc", {"before"}),
    ("after=abc&page_number=2", {"page_number"}),
    ("id__gt=99999999999999999999", {"id__gt"}),
    ("id__in=" + ",".join(["1"] * 101), {"id__in"}),
]


async def test_bad_grammar_is_400(client: AppClient) -> None:
    for query, bad in BAD_GRAMMAR:
        problem = await get_json(client, f"/users?{query}", expected_status=400)
        assert error_parameters(problem) == bad, query


async def test_unknown_operator_names_the_field_operators(client: AppClient) -> None:
    problem = await get_json(client, "/users?id__contains=1", expected_status=400)
    (error,) = problem["errors"]
    assert error["allowed"] == ["id", "id__gt", "id__gte", "id__in", "id__lt", "id__lte", "id__ne"]
    problem = await get_json(client, "/users?order_by=-tpe,usernme", expected_status=400)
    assert problem["errors"][0]["did_you_mean"] == "-type,username"


async def next_link(client: AppClient, url: str) -> str | None:
    async with client.get(url) as response:
        assert response.status == 200, await response.text()
        return relative_link(response.links, "next")


async def test_cursor_is_bound_to_its_query(client: AppClient) -> None:
    url = await next_link(client, "/users?type=User&order_by=-username&pagination=5")
    assert url is not None and "after=" in url and "page_number" not in url
    assert len(await get_json(client, url)) == 5
    cursor = url.split("after=")[1].split("&")[0]
    for foreign in (
        f"/users?type=Bot&order_by=-username&after={cursor}",
        f"/users?type=User&order_by=username&after={cursor}",
        f"/users?type=User&order_by=-username&username__ne=x&after={cursor}",
    ):
        problem = await get_json(client, foreign, expected_status=400)
        assert error_parameters(problem) == {"after"}
        assert "another query" in problem["errors"][0]["detail"]
    # The page size may change along the way.
    assert len(await get_json(client, url.replace("pagination=5", "pagination=2"))) == 2


async def test_malformed_cursor_is_400(client: AppClient) -> None:
    for cursor in ("garbage", "a.b", "WzFd.AAAA", "%E2%98%83.x", "W10.AAAAAAAAAAAAAAAAAAAAAA", "."):
        for name in ("after", "before"):
            problem = await get_json(client, f"/users?{name}={cursor}", expected_status=400)
            assert error_parameters(problem) == {name}, cursor


async def test_tampered_cursor_is_400(client: AppClient) -> None:
    url = await next_link(client, "/users?pagination=5")
    assert url is not None
    cursor = url.split("after=")[1]
    body, signature = cursor.split(".")
    flipped = body[:-1] + ("A" if body[-1] != "A" else "B")
    for bad in (f"{flipped}.{signature}", f"{body}.{signature[:-2]}", body):
        await get_json(client, f"/users?pagination=5&after={bad}", expected_status=400)


async def test_cursor_from_another_secret_is_400(client: AppClient, make_client: Any) -> None:
    url = await next_link(client, "/users?pagination=5")
    assert url is not None
    other = await make_client(cursor_secret="another-deployment")
    await get_json(other, url, expected_status=400)
    same = await make_client()  # another process of this deployment accepts it
    assert len(await get_json(same, url)) == 5


async def test_page_numbers_still_work_and_link_forward_by_cursor(client: AppClient) -> None:
    async with client.get("/users?pagination=10&page_number=3&order_by=username") as response:
        data = await response.json()
        links = response.links
    want = expected(order_by=("username",))
    assert [u["id"] for u in data] == want[20:30]
    assert "page_number=2" in str(links["prev"]["url"])
    next_url = relative_link(links, "next")
    assert next_url is not None
    following = await get_json(client, next_url)
    assert [u["id"] for u in following] == want[30:40]


async def test_first_link_drops_only_the_paging(client: AppClient) -> None:
    url = await next_link(client, "/users?pagination=10&order_by=username&type=User")
    assert url is not None
    async with client.get(url) as response:
        links = response.links
    first = link_url(links, "first")
    assert first is not None
    assert dict(first.query) == {"pagination": "10", "order_by": "username", "type": "User"}
    assert [u["id"] for u in await get_json(client, str(first.relative()))] == expected(
        ("type", "eq", "User"), order_by=("username",)
    )[:10]


@pytest.mark.parametrize(
    ("mode", "header"), [("exact", str(len(ROWS))), ("estimated", str(len(ROWS))), ("none", None)]
)
async def test_count_modes(client: AppClient, mode: str, header: str | None) -> None:
    async with client.get(f"/users?count={mode}") as response:
        assert response.headers.get("X-Total-Count") == header
        if header is not None:
            # Small sets are counted exactly even when an estimate would do.
            assert response.headers["X-Total-Count-Kind"] == "exact"


async def test_etag_and_304_without_the_page_query(client: AppClient) -> None:
    async with client.get("/users?type=User") as response:
        etag = response.headers["ETag"]
        assert etag.startswith('"') and not etag.startswith("W/")
        assert response.headers["Vary"] == "Accept, Accept-Encoding"
        assert "stale-while-revalidate=" in response.headers["Cache-Control"]
        assert "max-age=20" in response.headers["Cache-Control"]
    with count_statements(client.app[DATABASE].primary.engine) as statements:
        async with client.get("/users?type=User", headers={"If-None-Match": etag}) as response:
            assert response.status == 304
            assert await response.read() == b""
            assert response.headers["ETag"] == etag
    assert statements == []  # the data version is known in process: no query at all
    # The same query normalized differently is the same representation.
    async with client.get("/users?order_by=id&type=User&pagination=25") as response:
        assert response.headers["ETag"] == etag
    for other in ("/users?type=Bot", "/users?type=User&format=html"):
        async with client.get(other, headers={"If-None-Match": etag}) as response:
            assert response.status == 200
            assert response.headers["ETag"] != etag
    async with client.get("/users?type=User", headers={"If-None-Match": f'"x", W/{etag}'}) as r:
        assert r.status == 304


async def test_writes_change_the_etag_and_are_never_served_stale(
    client: AppClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with client.get("/users?username=alice") as response:
        etag = response.headers["ETag"]
        assert (await response.json())[0]["type"] == ROWS[0]["type"]
    async with client.get("/users?username=alice") as response:
        assert response.headers["X-Cache"] == "HIT"
    # Written as another process would (seeding): announced by NOTIFY, or read by polling.
    async with sessionmaker.begin() as session:
        await upsert_users(session, [{**ROWS[0], "type": "Changed"}])

    async def changed() -> bool:
        async with client.get("/users?username=alice", headers={"If-None-Match": etag}) as r:
            if r.status == 304:
                return False
            assert r.headers["X-Cache"] == "MISS"
            assert (await r.json())[0]["type"] == "Changed"
            return True

    assert await eventually(changed, within=1.0) < 1.0


async def test_versions_never_repeat_after_a_reset(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker.begin() as session:
        before = await get_version(session, USERS)
        await session.execute(delete(DataVersion))  # what dropping every table does
    async with sessionmaker.begin() as session:
        await bump_version(session, USERS)
    async with sessionmaker() as session:
        after = await session.scalar(select(DataVersion.version))
    assert after is not None and after > before


async def test_csv_streams_the_filtered_rows(client: AppClient) -> None:
    for url, headers in (
        ("/users?type=Bot&order_by=-username", {"Accept": "text/csv"}),
        ("/users?type=Bot&order_by=-username&format=csv", {}),
    ):
        async with client.get(url, headers=headers) as response:
            assert response.status == 200
            assert response.content_type == "text/csv"
            assert response.headers["Cache-Control"] == "no-store"
            assert response.headers.get("Transfer-Encoding") == "chunked"
            text = await response.text()
        lines = text.splitlines()
        assert lines[0] == "id,username,type,image_url,profile_url"
        want = reference(ROWS, [("type", "eq", "Bot")], ["-username"])
        assert [int(line.split(",")[0]) for line in lines[1:]] == [r["id"] for r in want]


async def test_csv_neutralizes_formulas(
    client: AppClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    row = {**ROWS[0], "id": 5, "username": "=HYPERLINK(1)", "type": "Formula"}
    async with sessionmaker.begin() as session:
        await upsert_users(session, [row])
    async with client.get("/users?type=Formula&format=csv") as response:
        text = await response.text()
    assert "\r\n5,'=HYPERLINK(1),Formula," in text


async def test_csv_errors_are_problems(client: AppClient) -> None:
    problem = await get_json(client, "/users?format=csv&id__gt=x", expected_status=400)
    assert error_parameters(problem) == {"id__gt"}


async def test_accept_negotiation(client: AppClient) -> None:
    cases = {
        "*/*": "application/json",
        "application/json": "application/json",
        "text/csv": "text/csv",
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8": "text/html",
        "application/json;q=0.5, text/html": "text/html",
        "image/png": "application/json",
    }
    for accept, media in cases.items():
        async with client.get("/users?pagination=1", headers={"Accept": accept}) as response:
            assert response.status == 200
            assert response.content_type == media, accept


async def test_large_sets_are_estimated_on_postgresql(
    client: AppClient, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    monkeypatch.setattr("userdir.queries.users.EXACT_COUNT_LIMIT", 5)
    query = "/users?type__in=User,Bot&username__ne=x"
    want = str(len(expected(("type", "in", ["User", "Bot"]))))
    async with client.get(query) as response:
        kind, value = response.headers["X-Total-Count-Kind"], response.headers["X-Total-Count"]
    if database_url.startswith("postgresql"):
        assert kind == "estimated" and int(value) > 5  # the planner's figure, not a count
    else:
        assert (kind, value) == ("exact", want)  # SQLite has no estimate to offer
    async with client.get(f"{query}&count=exact") as response:
        assert response.headers["X-Total-Count"] == want
        assert response.headers["X-Total-Count-Kind"] == "exact"
