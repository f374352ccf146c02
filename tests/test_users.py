from __future__ import annotations

from operator import itemgetter

import pytest

from tests.helpers import AppClient, error_parameters, get_json
from userdir.sample import bundled_users
from userdir.schemas.users import USER_OUT, USERS_OUT

pytestmark = pytest.mark.usefixtures("sample")
USERS = sorted(bundled_users(), key=itemgetter("id"))


async def test_default_page_is_first_25_by_id(client: AppClient) -> None:
    async with client.get("/users") as response:
        assert response.status == 200
        assert response.headers["X-Total-Count"] == str(len(USERS))
        assert response.headers["Cache-Control"] == (
            "public, max-age=20, stale-while-revalidate=20"
        )
        assert 'rel="next"' in response.headers["Link"]
        assert "after=" in response.headers["Link"]
        data = await response.json()
    assert data == USERS_OUT.dump(USERS[:25])


async def test_type_filter_from_the_guide(client: AppClient) -> None:
    data = await get_json(client, "/users?type=User&pagination=100", schema=USERS_OUT)
    assert len(data) == 100
    assert {u["type"] for u in data} == {"User"}


async def test_filters_combine(client: AppClient) -> None:
    data = await get_json(client, "/users?type=User&username=mojombo", schema=USERS_OUT)
    assert [u["id"] for u in data] == [1]
    assert await get_json(client, "/users?type=Organization&username=mojombo") == []


async def test_filter_on_every_field(client: AppClient) -> None:
    user = USERS[7]
    for field in ("id", "username", "type", "image_url", "profile_url"):
        data = await get_json(client, "/users", params={field: str(user[field]), "pagination": 100})
        assert user["id"] in [u["id"] for u in data], field
        assert all(u[field] == user[field] for u in data)


async def test_order_by_id_from_the_guide(client: AppClient) -> None:
    data = await get_json(client, "/users?order_by=id")
    assert [u["id"] for u in data] == [u["id"] for u in USERS[:25]]


@pytest.mark.parametrize("field", ["username", "type", "image_url", "profile_url"])
async def test_order_by_any_field_breaks_ties_by_id(client: AppClient, field: str) -> None:
    data = await get_json(client, f"/users?order_by={field}&pagination=100&page_number=2")
    expected = sorted(USERS, key=lambda u: (u[field], u["id"]))[100:200]
    assert [u["id"] for u in data] == [u["id"] for u in expected]


async def test_pagination_100_from_the_guide(client: AppClient) -> None:
    data = await get_json(client, "/users?pagination=100", schema=USERS_OUT)
    assert len(data) == 100


async def test_pages_follow_each_other_and_link_back(client: AppClient) -> None:
    async with client.get("/users?type=Organization&pagination=5&page_number=2") as response:
        data = await response.json()
        link = response.headers["Link"]
        assert response.headers["X-Total-Count"] == "16"
    orgs = [u for u in USERS if u["type"] == "Organization"]
    assert [u["id"] for u in data] == [u["id"] for u in orgs[5:10]]
    assert "after=" in link and 'rel="next"' in link
    assert "page_number=1" in link and 'rel="prev"' in link
    assert "type=Organization" in link


async def test_last_page_has_no_next(client: AppClient) -> None:
    async with client.get("/users?type=Organization&pagination=10&page_number=2") as response:
        assert len(await response.json()) == 6
        assert 'rel="next"' not in response.headers["Link"]


async def test_page_past_the_end_is_empty(client: AppClient) -> None:
    assert await get_json(client, "/users?page_number=1000") == []


@pytest.mark.parametrize(
    ("query", "bad"),
    [
        ("pagination=0", {"pagination"}),
        ("pagination=101", {"pagination"}),
        ("pagination=ten", {"pagination"}),
        ("page_number=0", {"page_number"}),
        ("page_number=1.5", {"page_number"}),
        ("order_by=name", {"order_by"}),
        ("id=abc", {"id"}),
        ("colour=red", {"colour"}),
        (
            "typ=User&order_by=nope&pagination=-1&page_number=x",
            {"typ", "order_by", "pagination", "page_number"},
        ),
        ("type=User&type=Organization", {"type"}),
        ("username=a%00b", {"username"}),
    ],
)
async def test_bad_parameters_are_400_listing_every_one(
    client: AppClient, query: str, bad: set[str]
) -> None:
    problem = await get_json(client, f"/users?{query}", expected_status=400)
    assert error_parameters(problem) == bad


async def test_errors_name_allowed_values_and_suggest(client: AppClient) -> None:
    problem = await get_json(client, "/users?order_by=usernme&typ=User", expected_status=400)
    errors = {e["parameter"]: e for e in problem["errors"]}
    assert errors["order_by"]["allowed"] == ["id", "username", "type", "image_url", "profile_url"]
    assert errors["order_by"]["did_you_mean"] == "username"
    assert errors["typ"]["did_you_mean"] == "type"
    assert "pagination" in errors["typ"]["allowed"]


async def test_one_user_by_username(client: AppClient) -> None:
    data = await get_json(client, "/users/defunkt", schema=USER_OUT)
    assert data == USER_OUT.dump(next(u for u in USERS if u["username"] == "defunkt"))


async def test_unknown_username_is_404(client: AppClient) -> None:
    problem = await get_json(client, "/users/no-such-user-here", expected_status=404)
    assert "no-such-user-here" in problem["detail"]


async def test_username_with_nul_is_404_not_a_database_error(client: AppClient) -> None:
    problem = await get_json(client, "/users/a%00b", expected_status=404)
    assert "a\\x00b" in problem["detail"]


async def test_links_are_relative_so_cached_responses_name_no_host(client: AppClient) -> None:
    async with client.get("/users?type=User", headers={"Host": "first.example"}) as response:
        assert response.headers["X-Cache"] == "MISS"
    async with client.get("/users?type=User", headers={"Host": "second.example"}) as response:
        assert response.headers["X-Cache"] == "HIT"
        link = response.headers["Link"]
    assert "first.example" not in link
    assert link.startswith("</users?") and 'rel="next"' in link
