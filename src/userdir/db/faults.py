"""Which database errors mean "unavailable" (answer 503) and which of those a read may retry,
and the one log line per outage."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator

from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

log = logging.getLogger(__name__)

# What database calls raise when the server is down, restarting, unreachable or overloaded,
# besides SQLAlchemy's own errors: drivers let some connect errors through unwrapped.
DATABASE_FAULTS: tuple[type[BaseException], ...] = (SQLAlchemyError, OSError, TimeoutError)

# SQLSTATE classes and codes of a server that cannot serve now (not of a bad statement):
# 08 connection exception, 53 insufficient resources (e.g. too many connections),
# 57P01-57P03 shutdown / crash / starting up, 57014 a statement timeout.
_UNAVAILABLE_CLASSES = ("08", "53")
_CONNECTION_LOST = ("57P01", "57P02", "57P03")
_STATEMENT_TIMEOUT = "57014"
_SQLITE_BUSY = ("database is locked", "unable to open database")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__


def _sqlstate(exc: BaseException) -> str:
    for error in _chain(exc):
        code = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
        if isinstance(code, str):
            return code
    return ""


def _connection_lost(exc: BaseException) -> bool:
    if any(isinstance(e, DBAPIError) and e.connection_invalidated for e in _chain(exc)):
        return True
    if any(isinstance(e, OSError | ConnectionError) for e in _chain(exc)):
        return True
    if any(type(e).__name__ == "InterfaceError" and "closed" in str(e) for e in _chain(exc)):
        return True
    code = _sqlstate(exc)
    return code.startswith("08") or code in _CONNECTION_LOST


def is_unavailable(exc: BaseException) -> bool:
    """The database could not serve this request now: a 503, not a bug."""
    if isinstance(exc, PoolTimeout | TimeoutError) or _connection_lost(exc):
        return True
    code = _sqlstate(exc)
    if code == _STATEMENT_TIMEOUT or code.startswith(_UNAVAILABLE_CLASSES):
        return True
    # SQLite: still locked by a writer after busy_timeout, or a file it cannot open.
    return any(
        isinstance(e, sqlite3.OperationalError) and str(e).startswith(_SQLITE_BUSY)
        for e in _chain(exc)
    )


def is_retryable(exc: BaseException) -> bool:
    """The connection died under a statement: the same read on a fresh one may well succeed.
    A statement or pool timeout is not retried: the database is slow, not gone."""
    return _connection_lost(exc)


class Outage:
    """Logs once when the database becomes unavailable and once when it is back, instead of a
    traceback per request."""

    def __init__(self) -> None:
        self.since: float | None = None
        self.answered = 0

    def noticed(self, exc: BaseException) -> None:
        self.answered += 1
        if self.since is not None:
            return
        self.since = time.monotonic()
        reason = next((e for e in _chain(exc) if not isinstance(e, SQLAlchemyError)), exc)
        log.warning(
            "database unavailable (%s: %s): answering 503 until it is back",
            type(reason).__name__,
            str(reason).splitlines()[0] if str(reason) else "",
        )

    def cleared(self) -> None:
        if self.since is None:
            return
        log.warning(
            "database is back after %.1f s (%d requests answered 503 meanwhile)",
            time.monotonic() - self.since,
            self.answered,
        )
        self.since = None
        self.answered = 0
