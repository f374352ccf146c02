"""Data versions: bumped inside every write transaction, read by every cache miss.

A bump on PostgreSQL also sends `NOTIFY userdir_versions, '<dataset>=<version>'` in the same
transaction, so the notification leaves at commit and never for a rolled-back write. On SQLite
(one writer at a time) a bump takes the highest version of all data sets plus one, so "what
changed since version N" is one indexed range read for the processes that poll.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import String, cast, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql import ColumnElement, Executable, Select

from userdir.datasets import Dataset
from userdir.models import DataVersion
from userdir.queries import dialect

CHANNEL = "userdir_versions"
# session.info key: {dataset: version} of the bumps in this session's transaction, which the
# writing process applies to its own view right after commit (it sees its own writes at once).
BUMPED = "userdir.bumped"
# Every menu is a data set of its own: the statements kept are bounded, the busiest stay.
READ_STARTS_KEPT = 256


def _clock() -> int:
    # A first version (a new or reset database) starts from the clock, not from 1, so it cannot
    # repeat a version that keys responses cached before the reset.
    return time.time_ns() // 1000


async def bump_version(session: AsyncSession, dataset: Dataset) -> int:
    """Increment `dataset`'s version inside the caller's transaction; returns the new one."""
    stmt: Executable
    if dialect(session) == "postgresql":
        bumped = (
            pg_insert(DataVersion)
            .values(name=dataset, version=_clock())
            .on_conflict_do_update(
                index_elements=[DataVersion.name], set_={"version": DataVersion.version + 1}
            )
            .returning(DataVersion.name, DataVersion.version)
            .cte("bumped")
        )
        payload = bumped.c.name + "=" + cast(bumped.c.version, String)
        stmt = select(bumped.c.version, func.pg_notify(CHANNEL, payload))
    else:
        highest = select(func.max(DataVersion.version)).scalar_subquery()
        following = func.max(func.coalesce(highest, 0) + 1, _clock())
        stmt = (
            sqlite_insert(DataVersion)
            .values(name=dataset, version=following)
            .on_conflict_do_update(index_elements=[DataVersion.name], set_={"version": following})
            .returning(DataVersion.version)
        )
    version = int((await session.execute(stmt)).scalar_one())
    session.info.setdefault(BUMPED, {})[dataset] = version
    return version


def version_of(dataset: Dataset) -> Select[int]:
    return select(DataVersion.version).where(DataVersion.name == dataset)


async def get_version(session: AsyncSession, dataset: Dataset) -> int:
    return int(await session.scalar(version_of(dataset)) or 0)


async def list_versions(
    connection: AsyncConnection | AsyncSession, *, newer_than: int = 0
) -> Sequence[tuple[str, int]]:
    """Every data set's version, or only those above `newer_than` (SQLite's polling)."""
    stmt = select(DataVersion.name, DataVersion.version)
    if newer_than:
        stmt = stmt.where(DataVersion.version > newer_than)
    result = await connection.execute(stmt)
    return [(str(name), int(version)) for name, version in result.all()]


# A write transaction's first statement where connections bound every statement.
UNBOUNDED = select(func.set_config("statement_timeout", "0", True))


# Built once per (backend, data set, timeout) rather than on every read: constructing it cost
# about as much of a cache miss's CPU as executing it. Statements are immutable: sharing is safe.
@functools.lru_cache(maxsize=READ_STARTS_KEPT)
def read_start(
    backend: str, dataset: Dataset | None, statement_timeout: float
) -> Select[Any] | None:
    """The first statement of a read transaction, or None when it needs none.

    On PostgreSQL, given a `statement_timeout`, it bounds the transaction's statements (SET
    LOCAL, which PgBouncer's transaction pooling keeps to this transaction); given a `dataset`,
    it reads its version in the same round trip. Reading the version first means the rows read
    after it are at least that new: a response is never stored under a version newer than its
    rows.
    """
    columns: list[ColumnElement[Any]] = []
    if backend == "postgresql" and statement_timeout > 0:
        millis = str(int(statement_timeout * 1000))
        columns.append(func.set_config("statement_timeout", millis, True))
    if dataset is not None:
        columns.append(version_of(dataset).scalar_subquery())
    return select(*columns) if columns else None
