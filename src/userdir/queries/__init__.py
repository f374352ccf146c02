"""All SQL lives here: small async functions taking the session first."""

from sqlalchemy import Select, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

# One round trip that touches no table: start-up, readiness and the listener's heartbeat.
PING: Select[tuple[int]] = select(literal(1))


def dialect(session: AsyncSession) -> str:
    """`postgresql` or `sqlite`: the few statements that differ between them ask this."""
    return session.get_bind().dialect.name
