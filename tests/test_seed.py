"""Seeding into SQLite and PostgreSQL from the fake GitHub API: exact rows, resumable."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import orjson
import pytest
from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.fake_github import FakeGitHub, Fault, Sleeps, github_users, running_fake
from userdir.config import Settings
from userdir.datasets import USERS
from userdir.db import create_engine
from userdir.github import GitHubClient, RetryPolicy
from userdir.models import User
from userdir.progress import QuietProgress
from userdir.queries.versions import get_version
from userdir.seed import SeedError, SeedInterrupted, SeedReport, create_seed_engine, seed_from_api
from userdir.seed_cli import run_seed

RAW = github_users()
FIELDS = ("id", "username", "type", "image_url", "profile_url")


def stored(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the users table must hold for these API records, in id order: written out field by
    field from GitHub's record, not through the schema that seeding itself uses."""
    rows = [
        {
            "id": r["id"],
            "username": r["login"],
            "type": r["type"],
            "image_url": r["avatar_url"],
            "profile_url": r["html_url"],
        }
        for r in raw
    ]
    return sorted(rows, key=lambda u: u["id"])


async def table(sessionmaker: async_sessionmaker[AsyncSession]) -> list[dict[str, Any]]:
    async with sessionmaker() as session:
        users = (await session.scalars(select(User).order_by(User.id))).all()
    return [{f: getattr(u, f) for f in FIELDS} for u in users]


class Recorder(QuietProgress):
    def __init__(self, pages: int = 0) -> None:
        self.warnings: list[str] = []
        self.advanced: list[int] = []
        self.pages = pages
        self.stored = asyncio.Event()  # set once `pages` pages are committed

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def advance(self, stored: int, last_id: int | None) -> None:
        self.advanced.append(stored)
        if len(self.advanced) >= self.pages:
            self.stored.set()


@pytest.fixture
async def fake() -> AsyncIterator[FakeGitHub]:
    async with running_fake(RAW) as fake:
        yield fake


async def seed(
    sessionmaker: async_sessionmaker[AsyncSession],
    fake: FakeGitHub,
    *,
    total: int = 25,
    since: int | None = None,
    progress: QuietProgress | None = None,
    **options: Any,
) -> SeedReport:
    options.setdefault("retry", RetryPolicy(attempts=3, rng=lambda: 0.5))
    async with GitHubClient(fake.url, sleep=Sleeps(fake), clock=fake.clock, **options) as gh:
        return await seed_from_api(
            sessionmaker,
            gh,
            total=total,
            since=since,
            progress=progress or QuietProgress(),
            report=SeedReport(),
        )


def queries(fake: FakeGitHub) -> list[str]:
    return [r.query_string for r in fake.requests]


async def test_default_run_stores_the_first_25_exactly(
    sessionmaker: async_sessionmaker[AsyncSession], fake: FakeGitHub
) -> None:
    report = await seed(sessionmaker, fake)
    assert await table(sessionmaker) == stored(RAW[:25])
    assert queries(fake) == ["since=0&per_page=25"]
    assert (report.stored, report.pages, report.last_id) == (25, 1, RAW[24]["id"])


async def test_follows_link_headers_and_stops_at_total(
    sessionmaker: async_sessionmaker[AsyncSession], fake: FakeGitHub
) -> None:
    await seed(sessionmaker, fake, total=250)
    assert await table(sessionmaker) == stored(RAW[:250])
    ids = [RAW[99]["id"], RAW[199]["id"]]
    assert queries(fake) == [
        "since=0&per_page=100",
        f"per_page=100&since={ids[0]}",
        f"per_page=100&since={ids[1]}",
    ]


async def test_whole_listing_until_no_next_link(
    sessionmaker: async_sessionmaker[AsyncSession], fake: FakeGitHub
) -> None:
    report = await seed(sessionmaker, fake, total=10_000)
    assert await table(sessionmaker) == stored(RAW)
    assert report.pages == 15 and report.stored == 1500


async def test_rerun_resumes_after_highest_id_without_duplicates(
    sessionmaker: async_sessionmaker[AsyncSession], fake: FakeGitHub
) -> None:
    await seed(sessionmaker, fake, total=100)
    await seed(sessionmaker, fake, total=100)
    assert await table(sessionmaker) == stored(RAW[:200])
    assert queries(fake)[1] == f"since={RAW[99]['id']}&per_page=100"


async def test_since_zero_starts_over_and_updates_changed_fields(
    sessionmaker: async_sessionmaker[AsyncSession], fake: FakeGitHub
) -> None:
    await seed(sessionmaker, fake, total=50)
    changed = [dict(u) for u in RAW]
    changed[3] = {**changed[3], "login": "renamed-user", "type": "Organization"}
    changed[7] = {**changed[7], "avatar_url": "https://example.test/a.png"}
    fake.users = changed
    async with sessionmaker() as session:
        before = await get_version(session, USERS)
    await seed(sessionmaker, fake, total=50, since=0)
    assert await table(sessionmaker) == stored(changed[:50])
    async with sessionmaker() as session:
        # Cached pages of the directory are keyed by this version: they cannot be served now.
        assert await get_version(session, USERS) > before


async def test_login_taken_over_by_another_id(
    sessionmaker: async_sessionmaker[AsyncSession], fake: FakeGitHub
) -> None:
    """A login freed by a rename and claimed by a newer account moves to the new id."""
    await seed(sessionmaker, fake, total=10)
    changed = [dict(u) for u in RAW[:10]]
    changed[2] = {**changed[2], "login": "old-name-freed"}
    changed[9] = {**changed[9], "login": RAW[2]["login"]}
    fake.users = [changed[9]]  # only the new holder of the login is on the page
    await seed(sessionmaker, fake, total=10, since=RAW[8]["id"])
    rows = await table(sessionmaker)
    assert [r["username"] for r in rows if r["username"] == RAW[2]["login"]] == [RAW[2]["login"]]
    assert stored([changed[9]])[0] in rows
    assert RAW[2]["id"] not in [r["id"] for r in rows]
    assert len({r["username"] for r in rows}) == len(rows)


async def test_malformed_records_are_skipped_and_reported(
    sessionmaker: async_sessionmaker[AsyncSession], fake: FakeGitHub
) -> None:
    users: list[Any] = [dict(u) for u in RAW[:6]]
    ids = [u["id"] for u in users]
    del users[1]["login"]
    users[2]["type"] = 5
    users[3] = "not an object"
    users[4]["login"] = users[0]["login"]
    fake.users = [users[0], users[5]]
    progress = Recorder()
    fake.fail(Fault(body=orjson.dumps(users)))
    report = await seed(sessionmaker, fake, total=6, progress=progress)
    assert await table(sessionmaker) == stored([users[0], users[5]])
    source = f"{fake.url}/users?since=0&per_page=6"
    assert progress.warnings == [
        f"skipped record 2 (id {ids[1]}) of {source}: login: Missing data for required field.",
        f"skipped record 3 (id {ids[2]}) of {source}: type: Not a valid string.",
        f"skipped record 4 (id None) of {source}: record: Invalid input type.",
        f"skipped record 5 (id {ids[4]}) of {source}: login 'mojombo' is also id {ids[0]}",
    ]
    assert (report.stored, report.skipped) == (2, 4)


async def test_failure_keeps_what_was_stored(
    sessionmaker: async_sessionmaker[AsyncSession], fake: FakeGitHub
) -> None:
    fake.on_request = lambda r: (
        fake.fail(*[Fault(status=502)] * 3) if len(fake.requests) == 2 else None
    )
    with pytest.raises(SeedError) as raised:
        await seed(sessionmaker, fake, total=300)
    url = f"{fake.url}/users?per_page=100&since={RAW[99]['id']}"
    assert str(raised.value) == (
        f"GitHub answered HTTP 502 Bad Gateway for {url} (3 attempts); "
        f"stored 100 users in 1 pages, last id {RAW[99]['id']}, run again to resume"
    )
    assert await table(sessionmaker) == stored(RAW[:100])
    await seed(sessionmaker, fake, total=200)  # the next run resumes where it stopped
    assert await table(sessionmaker) == stored(RAW[:300])


async def test_rate_limit_wait_during_a_run(
    sessionmaker: async_sessionmaker[AsyncSession], fake: FakeGitHub
) -> None:
    fake.limit = 2
    waits: list[str] = []
    await seed(sessionmaker, fake, total=500, on_wait=lambda s, r: waits.append(r))
    assert await table(sessionmaker) == stored(RAW[:500])
    assert len(waits) == 2  # after pages 2 and 4
    assert len(fake.requests) == 5


async def test_cancelled_run_is_consistent_and_resumes(
    sessionmaker: async_sessionmaker[AsyncSession], fake: FakeGitHub
) -> None:
    inserts: list[str] = []

    def cancel_during_second_page(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("INSERT INTO users"):
            inserts.append(statement)
            if len(inserts) == 2:
                run.cancel()  # delivered at the run's next await: inside page 2's write

    engine = sessionmaker.kw["bind"]
    event.listen(engine.sync_engine, "before_cursor_execute", cancel_during_second_page)
    run = asyncio.ensure_future(seed(sessionmaker, fake, total=1000))
    try:
        with pytest.raises(asyncio.CancelledError):
            await run
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", cancel_during_second_page)
    # The page being written when the interruption came was committed whole, and no more.
    assert len(inserts) == 2
    assert await table(sessionmaker) == stored(RAW[:200])
    await seed(sessionmaker, fake, total=300)
    assert await table(sessionmaker) == stored(RAW[:500])
    assert queries(fake)[-3] == f"since={RAW[199]['id']}&per_page=100"


async def test_sigterm_stops_with_a_message_and_exit_status(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], fake: FakeGitHub
) -> None:
    fake.hold_after = 1
    settings = replace(settings, github_api_url=fake.url)
    progress = Recorder(pages=1)
    run = asyncio.ensure_future(
        run_seed(
            settings,
            total=300,
            since=None,
            from_file=None,
            wait=True,
            quiet=True,
            progress=progress,
        )
    )
    await progress.stored.wait()
    await fake.served.wait()
    os.kill(os.getpid(), signal.SIGTERM)
    with pytest.raises(SeedInterrupted) as raised:
        await run
    assert raised.value.exit_code == 143
    assert str(raised.value) == (
        f"interrupted by SIGTERM; stored 100 users in 1 pages, last id {RAW[99]['id']}, "
        "run again to resume"
    )
    assert await table(sessionmaker) == stored(RAW[:100])


async def test_seed_engine_commits_without_waiting_for_the_disk(postgresql_url: str) -> None:
    """A PostgreSQL setting: SQLite seeding uses the ordinary engine."""
    seeding, serving = create_seed_engine(postgresql_url), create_engine(postgresql_url)
    try:
        async with seeding.connect() as conn:
            assert await conn.scalar(text("SHOW synchronous_commit")) == "off"
        async with serving.connect() as conn:  # the server's connections keep the default
            assert await conn.scalar(text("SHOW synchronous_commit")) == "on"
    finally:
        await seeding.dispose()
        await serving.dispose()
