"""All SQL lives here: small async functions taking the session first (a connection, for
the one-statement reads that run without a session: userdir.db.direct)."""

from sqlalchemy import Select, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

# One round trip that touches no table: start-up, readiness and the listener's heartbeat.
PING: Select[tuple[int]] = select(literal(1))


def dialect(db: AsyncSession | AsyncConnection) -> str:
    """`postgresql` or `sqlite`: the few statements that differ between them ask this."""
    return (db.get_bind() if isinstance(db, AsyncSession) else db).dialect.name
