"""The GitHub client against the fake API: headers, tokens, limits, retries, ETags."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.fake_github import START, FakeGitHub, Fault, Sleeps, github_users, running_fake
from userdir import __version__
from userdir.github import (
    GitHubClient,
    GitHubError,
    GitHubUnreachable,
    RateLimited,
    RetryPolicy,
    format_duration,
)

USERS = github_users()


@pytest.fixture
async def fake() -> AsyncIterator[FakeGitHub]:
    async with running_fake(USERS) as fake:
        yield fake


def client_for(fake: FakeGitHub, sleeps: Sleeps, **options: Any) -> GitHubClient:
    options.setdefault("retry", RetryPolicy(attempts=4, base=1.0, cap=5.0, rng=lambda: 0.5))
    return GitHubClient(fake.url, sleep=sleeps, clock=fake.clock, **options)


async def test_page_headers_and_link(fake: FakeGitHub) -> None:
    async with client_for(fake, Sleeps(fake)) as gh:
        page = await gh.get_page(gh.users_url(0, 100))
    assert page.records == USERS[:100]
    assert page.next_url == f"{fake.url}/users?per_page=100&since={USERS[99]['id']}"
    request = fake.requests[0]
    assert request.query_string == "since=0&per_page=100"
    assert request.headers["User-Agent"] == f"userdir/{__version__} (+https://github.com/userdir)"
    assert request.headers["Accept"] == "application/vnd.github+json"
    assert request.headers["X-GitHub-Api-Version"] == "2022-11-28"
    assert "Authorization" not in request.headers


async def test_last_page_has_no_next(fake: FakeGitHub) -> None:
    async with client_for(fake, Sleeps(fake)) as gh:
        page = await gh.get_page(gh.users_url(USERS[-3]["id"], 100))
    assert page.records == USERS[-2:]
    assert page.next_url is None


async def test_refetch_sends_etag_and_304_costs_nothing(fake: FakeGitHub) -> None:
    async with client_for(fake, Sleeps(fake)) as gh:
        url = gh.users_url(0, 100)
        first = await gh.get_page(url)
        second = await gh.get_page(url)
    assert not first.not_modified and second.not_modified
    assert second.records == first.records == USERS[:100]
    assert second.next_url == first.next_url
    assert "If-None-Match" not in fake.requests[0].headers
    assert fake.requests[1].headers["If-None-Match"].startswith('W/"')
    assert fake.budgets[None][0] == fake.limit - 1


async def test_changed_page_is_refetched_in_full(fake: FakeGitHub) -> None:
    async with client_for(fake, Sleeps(fake)) as gh:
        url = gh.users_url(0, 5)
        await gh.get_page(url)
        fake.users[0] = {**fake.users[0], "login": "renamed"}
        page = await gh.get_page(url)
    assert not page.not_modified
    assert page.records == fake.users[:5] and fake.users[0]["login"] == "renamed"


async def test_token_with_most_budget_is_used(fake: FakeGitHub) -> None:
    fake.spend("a", remaining=3)
    async with client_for(fake, Sleeps(fake), tokens=("a", "b")) as gh:
        for since in (0, 100, 200, 300):
            await gh.get_page(gh.users_url(since, 10))
    used = [r.headers["Authorization"] for r in fake.requests]
    # Both unknown at first: "a" is tried, reports 2 left; "b" (unknown) then reports 59.
    assert used == ["Bearer a", "Bearer b", "Bearer b", "Bearer b"]


async def test_spent_budget_waits_for_reset(fake: FakeGitHub) -> None:
    fake.limit = 2
    sleeps = Sleeps(fake)
    waits: list[tuple[float, str]] = []
    async with client_for(fake, sleeps, on_wait=lambda s, r: waits.append((s, r))) as gh:
        for since in (0, 10, 20):
            await gh.get_page(gh.users_url(since, 10))
    # Spent after two requests: the third waits for the reset (+1 s) and never sees a 403.
    assert waits == [
        (3601.0, "GitHub rate limit spent (0 of 2 requests left), waiting for the reset")
    ]
    assert fake.now == START + 3601
    assert len(fake.requests) == 3


async def test_403_with_spent_budget_waits_then_retries(fake: FakeGitHub) -> None:
    fake.spend(None, remaining=0)
    sleeps = Sleeps(fake)
    async with client_for(fake, sleeps) as gh:
        page = await gh.get_page(gh.users_url(0, 10))
    assert page.records == USERS[:10]
    assert sleeps.waits == [3601.0]
    assert len(fake.requests) == 2


async def test_spent_budget_without_waiting_is_a_clear_error(fake: FakeGitHub) -> None:
    fake.spend(None, remaining=0)
    async with client_for(fake, Sleeps(fake), wait_for_reset=False) as gh:
        with pytest.raises(RateLimited) as raised:
            await gh.get_page(gh.users_url(0, 10))
    assert str(raised.value) == (
        "GitHub rate limit spent (0 of 60 requests left); "
        "it resets at 2023-11-14 23:13:20 UTC (in 1h 00m 00s)"
    )


@pytest.mark.parametrize("status", [403, 429])
async def test_retry_after_is_honoured(fake: FakeGitHub, status: int) -> None:
    fake.fail(Fault(status=status, retry_after=7))
    sleeps = Sleeps(fake)
    waits: list[tuple[float, str]] = []
    async with client_for(fake, sleeps, on_wait=lambda s, r: waits.append((s, r))) as gh:
        page = await gh.get_page(gh.users_url(0, 10))
    assert page.records == USERS[:10]
    assert waits == [(7, f"GitHub asked to slow down ({status})")]


async def test_secondary_limit_without_retry_after_waits_a_minute(fake: FakeGitHub) -> None:
    fake.fail(Fault(status=403))
    sleeps = Sleeps(fake)
    async with client_for(fake, sleeps) as gh:
        page = await gh.get_page(gh.users_url(0, 10))
    assert page.records == USERS[:10]
    assert sleeps.waits == [60.0]


async def test_retry_after_forever_gives_up(fake: FakeGitHub) -> None:
    fake.fail(*[Fault(status=429, retry_after=30)] * 4)
    sleeps = Sleeps(fake)
    async with client_for(fake, sleeps) as gh:
        url = gh.users_url(0, 10)
        with pytest.raises(GitHubError) as raised:
            await gh.get_page(url)
    assert str(raised.value) == f"GitHub answered HTTP 429 Too Many Requests for {url} (4 attempts)"
    assert sleeps.waits == [30.0, 30.0, 30.0]


async def test_plain_403_is_not_retried(fake: FakeGitHub) -> None:
    fake.fail(Fault(status=403, message="Resource not accessible by integration"))
    async with client_for(fake, Sleeps(fake)) as gh:
        url = gh.users_url(0, 10)
        with pytest.raises(GitHubError) as raised:
            await gh.get_page(url)
    assert str(raised.value) == (
        f"GitHub answered 403 Resource not accessible by integration for {url}"
    )
    assert len(fake.requests) == 1


async def test_5xx_retried_with_bounded_backoff(fake: FakeGitHub) -> None:
    fake.fail(Fault(status=502), Fault(status=502), Fault(status=503))
    sleeps = Sleeps(fake)
    async with client_for(fake, sleeps) as gh:
        page = await gh.get_page(gh.users_url(0, 10))
    assert page.records == USERS[:10]
    # ceiling 1, 2, 4 (cap 5); equal jitter with rng=0.5 -> three quarters of each ceiling.
    assert sleeps.waits == [0.75, 1.5, 3.0]


def test_backoff_is_capped_and_jittered() -> None:
    low = RetryPolicy(base=1, cap=30, rng=lambda: 0.0)
    high = RetryPolicy(base=1, cap=30, rng=lambda: 0.999999)
    assert [low.delay(n) for n in range(7)] == [0.5, 1, 2, 4, 8, 15, 15]
    assert all(15 <= high.delay(n) < 30 for n in (5, 10, 50))


async def test_5xx_gives_up_after_the_attempts(fake: FakeGitHub) -> None:
    fake.fail(*[Fault(status=502)] * 4)
    async with client_for(fake, Sleeps(fake)) as gh:
        url = gh.users_url(0, 10)
        with pytest.raises(GitHubError) as raised:
            await gh.get_page(url)
    assert str(raised.value) == f"GitHub answered HTTP 502 Bad Gateway for {url} (4 attempts)"
    assert len(fake.requests) == 4


async def test_timeout_is_retried(fake: FakeGitHub) -> None:
    fake.fail(Fault(hang=True))
    # The fake never answers the first request; the client's own timeout ends it.
    async with client_for(fake, Sleeps(fake), timeout=0.05) as gh:
        page = await gh.get_page(gh.users_url(0, 10))
    assert page.records == USERS[:10]
    assert len(fake.requests) == 2


async def test_truncated_body_is_retried(fake: FakeGitHub) -> None:
    fake.fail(Fault(truncate=True))
    async with client_for(fake, Sleeps(fake)) as gh:
        page = await gh.get_page(gh.users_url(0, 100))
    assert page.records == USERS[:100]
    assert len(fake.requests) == 2


async def test_malformed_json_is_retried_then_reported(fake: FakeGitHub) -> None:
    fake.fail(*[Fault(body=b'[{"id": 1,')] * 4)
    async with client_for(fake, Sleeps(fake)) as gh:
        url = gh.users_url(0, 10)
        with pytest.raises(GitHubUnreachable) as raised:
            await gh.get_page(url)
    assert str(raised.value).startswith(f"cannot reach {url} (malformed JSON (")
    assert str(raised.value).endswith(
        " (4 attempts)); to seed without the network, use --from-file PATH "
        "(a JSON array of GitHub users)"
    )


async def test_json_that_is_not_an_array(fake: FakeGitHub) -> None:
    fake.fail(Fault(body=b'{"message": "hi"}'))
    async with client_for(fake, Sleeps(fake)) as gh:
        url = gh.users_url(0, 10)
        with pytest.raises(GitHubError) as raised:
            await gh.get_page(url)
    assert type(raised.value) is GitHubError  # not retried as unreachable: a wrong answer
    assert str(raised.value) == f"{url} did not answer a JSON array of users"


async def test_bad_token_is_not_retried(fake: FakeGitHub) -> None:
    fake.fail(Fault(status=401))
    async with client_for(fake, Sleeps(fake), tokens=("nope",)) as gh:
        with pytest.raises(GitHubError) as raised:
            await gh.get_page(gh.users_url(0, 10))
    assert str(raised.value) == (
        "GitHub rejected the token (401 Bad credentials): check GITHUB_TOKEN(S)"
    )
    assert len(fake.requests) == 1


async def test_unreachable_api_names_url_reason_and_from_file() -> None:
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    retry = RetryPolicy(attempts=3, rng=lambda: 0.0)
    async with GitHubClient("http://127.0.0.1:9", sleep=sleep, retry=retry) as gh:
        with pytest.raises(GitHubUnreachable) as raised:
            await gh.get_page(gh.users_url(0, 25))
    assert str(raised.value) == (
        "cannot reach http://127.0.0.1:9/users?since=0&per_page=25 "
        "(ConnectError: All connection attempts failed (3 attempts)); "
        "to seed without the network, use --from-file PATH (a JSON array of GitHub users)"
    )
    assert sleeps == [0.5, 1.0]


def test_durations_read_well() -> None:
    assert [format_duration(s) for s in (0, 59.4, 61, 3600, 3725)] == [
        "0s",
        "59s",
        "1m 01s",
        "1h 00m 00s",
        "1h 02m 05s",
    ]


@pytest.mark.parametrize("base", ["api.github.com", "ftp://127.0.0.1", "http://[::1"])
async def test_api_url_that_is_not_http_fails_at_once(base: str) -> None:
    async with GitHubClient(base, retry=RetryPolicy(rng=lambda: 0.0)) as gh:
        with pytest.raises(GitHubError) as raised:
            await gh.get_page(gh.users_url(0, 25))
    assert str(raised.value) == (
        f"{base}/users?since=0&per_page=25 is not an http(s) URL: check GITHUB_API_URL"
    )
