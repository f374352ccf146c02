"""All SQL lives here: small async functions taking the session first."""

from sqlalchemy.ext.asyncio import AsyncSession


def dialect(session: AsyncSession) -> str:
    """`postgresql` or `sqlite`: the few statements that differ between them ask this."""
    return session.get_bind().dialect.name
