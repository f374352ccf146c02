"""The database: engines, where each query runs, sessions for handlers, and faults."""

from userdir.db.engines import censored, create_engine, create_sessionmaker, ping
from userdir.db.faults import DATABASE_FAULTS, Outage, is_retryable, is_unavailable
from userdir.db.sessions import Direct, Snapshot, direct, reader, writer
from userdir.db.sources import Database, Replica, Source, database_ctx

__all__ = [
    "DATABASE_FAULTS",
    "Database",
    "Direct",
    "Outage",
    "Replica",
    "Snapshot",
    "Source",
    "censored",
    "create_engine",
    "create_sessionmaker",
    "database_ctx",
    "direct",
    "is_retryable",
    "is_unavailable",
    "ping",
    "reader",
    "writer",
]
