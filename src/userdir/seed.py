"""Seeding the users table from GitHub's API or a JSON file: resumable and idempotent.

Every page is validated, then upserted by id in one transaction, so an interruption loses
at most the page in flight and a re-run stores nothing twice. A malformed record is skipped
and reported; it never stops the run (see README, "Seeding from GitHub").
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson
from marshmallow import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from userdir.db import create_engine
from userdir.github import MAX_PER_PAGE, GitHubClient, GitHubError, Page
from userdir.metrics import seed_counters
from userdir.progress import SeedProgress
from userdir.queries.users import max_user_id, upsert_users
from userdir.schemas.github import GitHubUserRow, load_github_user

FILE_PAGE = 1000  # records per transaction when loading a file
PREFETCH = 3  # pages read ahead of the one being written: smooths latency, bounds the waste


def create_seed_engine(database_url: str, *, pgbouncer: bool = False) -> AsyncEngine:
    """An engine for seeding: PostgreSQL commits return before their WAL reaches the disk.

    Seeding writes data that can be fetched again: a server crash may forget the commits of
    the last fraction of a second (whole pages only, never half of one), and the next run,
    resuming after the highest stored id, reads them again. It spares one disk flush per page,
    the largest single cost of seeding into PostgreSQL. Through PgBouncer (pgbouncer=True)
    it cannot be had: PgBouncer refuses a setting sent when connecting, and a SET would stay
    on a server connection other clients share.
    """
    if make_url(database_url).get_backend_name() != "postgresql":
        return create_engine(database_url)
    settings = {} if pgbouncer else {"server_settings": {"synchronous_commit": "off"}}
    # No ping before every page's checkout: a run is short, and a dropped connection fails
    # one page's transaction, which the next run reads again.
    return create_engine(
        database_url, pgbouncer=pgbouncer, connect_args=settings, pool_pre_ping=False
    )


class SeedError(Exception):
    """The run stopped; the message is one line for a person, `exit_code` for the shell."""

    exit_code = 1


class SeedInterrupted(SeedError):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(slots=True)
class SeedReport:
    """What a run did so far; kept up to date page by page, so it is right even on failure."""

    stored: int = 0
    skipped: int = 0
    pages: int = 0
    last_id: int | None = None

    def summary(self) -> str:
        skipped = f", skipped {self.skipped} malformed" if self.skipped else ""
        last = f", last id {self.last_id}" if self.last_id is not None else ""
        return f"stored {self.stored} users in {self.pages} pages{skipped}{last}"


def _describe(errors: Mapping[str, object] | Sequence[object]) -> str:
    if not isinstance(errors, Mapping):
        return "; ".join(str(e) for e in errors)
    parts = []
    for name, messages in sorted(errors.items()):
        text = " ".join(messages) if isinstance(messages, list) else str(messages)
        parts.append(f"{'record' if name == '_schema' else name}: {text}")
    return "; ".join(parts)


def valid_rows(
    records: Sequence[object],
    source: str,
    progress: SeedProgress,
    report: SeedReport,
    first: int = 1,
) -> list[GitHubUserRow]:
    """The storable rows of a page; each malformed record is reported and skipped."""
    rows: list[GitHubUserRow] = []
    owners: dict[str, int] = {}
    for position, record in enumerate(records, start=first):
        raw_id = record.get("id") if isinstance(record, dict) else None
        label = f"record {position} (id {raw_id!r}) of {source}"
        try:
            row = load_github_user(record)
        except ValidationError as exc:
            _skip(report, progress, f"skipped {label}: {_describe(exc.messages)}")
            continue
        owner = owners.setdefault(row["username"], row["id"])
        if owner != row["id"]:
            # Two ids claiming one login on one page cannot both be stored (username is unique).
            clash = f"login {row['username']!r} is also id {owner}"
            _skip(report, progress, f"skipped {label}: {clash}")
            continue
        rows.append(row)
    return rows


async def _store(sessionmaker: async_sessionmaker[AsyncSession], rows: list[GitHubUserRow]) -> None:
    async with sessionmaker.begin() as session:
        await upsert_users(session, rows)


async def store_page(
    sessionmaker: async_sessionmaker[AsyncSession],
    rows: list[GitHubUserRow],
    report: SeedReport,
    progress: SeedProgress,
) -> None:
    """One page, one transaction; a cancellation lets the page in flight commit first."""
    if rows:
        write = asyncio.ensure_future(_store(sessionmaker, rows))
        try:
            await asyncio.shield(write)
        except asyncio.CancelledError:
            await write
            _count(rows, report, progress)
            raise
    _count(rows, report, progress)


def _skip(report: SeedReport, progress: SeedProgress, message: str) -> None:
    report.skipped += 1
    seed_counters().users.labels("skipped").inc()
    progress.warn(message)


def _count(rows: list[GitHubUserRow], report: SeedReport, progress: SeedProgress) -> None:
    report.pages += 1
    report.stored += len(rows)
    counters = seed_counters()
    counters.pages.inc()
    counters.users.labels("stored").inc(len(rows))
    if rows:
        report.last_id = max(report.last_id or 0, max(r["id"] for r in rows))
    progress.advance(len(rows), report.last_id)


# What the fetcher hands the writer: a page and the records of it to store, then None at the
# end, or the exception that stopped it.
Fetched = tuple[Page, list[object]] | Exception | None


async def _fetch_pages(
    client: GitHubClient, url: str | None, total: int, pages: asyncio.Queue[Fetched]
) -> None:
    """Put up to `total` records on `pages`, page by page, then None (or the exception)."""
    seen = 0
    try:
        while url is not None:
            page = await client.get_page(url)
            records = page.records[: total - seen]
            seen += len(records)
            await pages.put((page, records))
            url = page.next_url if records and seen < total else None
    except Exception as exc:  # handed to the writer, which raises it in the caller's task
        await pages.put(exc)
    else:
        await pages.put(None)


async def seed_from_api(
    sessionmaker: async_sessionmaker[AsyncSession],
    client: GitHubClient,
    *,
    total: int,
    since: int | None,
    progress: SeedProgress,
    report: SeedReport,
) -> SeedReport:
    """Read up to `total` records after `since` (default: the highest id stored) and store them.

    Pages are fetched (one request at a time) up to PREFETCH pages ahead of the one being
    written, so the network and the database work at the same time; pages are written in
    order, so the highest stored id is always a safe place to resume.
    """
    if since is None:
        async with sessionmaker() as session:
            since = await max_user_id(session)
    start = since
    first_url = client.users_url(start, min(MAX_PER_PAGE, total))
    progress.start(total, client.base_url)
    pages: asyncio.Queue[Fetched] = asyncio.Queue(maxsize=PREFETCH)
    fetcher = asyncio.ensure_future(_fetch_pages(client, first_url, total, pages))
    try:
        while (item := await pages.get()) is not None:
            if isinstance(item, GitHubError):
                raise SeedError(f"{item}; {report.summary()}, run again to resume")
            if isinstance(item, Exception):
                raise item
            page, records = item
            rows = valid_rows(records, page.url, progress, report)
            await store_page(sessionmaker, rows, report, progress)
    finally:
        fetcher.cancel()
        await asyncio.gather(fetcher, return_exceptions=True)
    return report


def read_records(path: Path) -> list[object]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SeedError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        records = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise SeedError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(records, list):
        raise SeedError(
            f"{path} must hold a JSON array of GitHub users, not {type(records).__name__}"
        )
    return records


async def seed_from_file(
    sessionmaker: async_sessionmaker[AsyncSession],
    path: Path,
    *,
    progress: SeedProgress,
    report: SeedReport,
) -> SeedReport:
    records = read_records(path)
    progress.start(len(records), str(path))
    for start in range(0, len(records), FILE_PAGE):
        chunk = records[start : start + FILE_PAGE]
        rows = valid_rows(chunk, str(path), progress, report, first=start + 1)
        await store_page(sessionmaker, rows, report, progress)
    return report
