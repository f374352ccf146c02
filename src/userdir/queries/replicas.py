"""How far a read replica is behind its primary."""

from __future__ import annotations

from sqlalchemy import case, extract, func, select
from sqlalchemy.ext.asyncio import AsyncConnection


async def replica_lag(conn: AsyncConnection) -> float | None:
    """Seconds of writes the server has received but not yet applied: 0 when it has applied
    all it received (an idle primary is not "lag"), None when it cannot tell (not streaming).
    A server that is not in recovery is a primary and never behind."""
    received, replayed = func.pg_last_wal_receive_lsn(), func.pg_last_wal_replay_lsn()
    behind = extract("epoch", func.now() - func.pg_last_xact_replay_timestamp())
    stmt = select(
        case(
            (~func.pg_is_in_recovery(), 0.0),
            (received == replayed, 0.0),
            else_=behind,
        )
    )
    lag = (await conn.execute(stmt)).scalar_one()
    return None if lag is None else float(lag)
