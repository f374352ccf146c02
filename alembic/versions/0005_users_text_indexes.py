"""users: text in code point order, trigram indexes for substring filters (PostgreSQL)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

The text columns take the "C" collation: code point order whatever the database's locale (as
SQLite's BINARY), and under it a prefix LIKE ('abc%') is a range of the existing btree indexes.
contains/icontains get GIN trigram indexes (pg_trgm, a trusted extension: the database owner
may create it). Changing a column's collation rebuilds the indexes on it and holds an ACCESS
EXCLUSIVE lock meanwhile; building the trigram indexes blocks writes (not reads) while it runs.
SQLite needs neither: it already compares text by code point.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (column, type): the types as 0001 made them; the collation is what changes.
TEXT_COLUMNS = (
    ("username", "VARCHAR(255)"),
    ("type", "VARCHAR(32)"),
    ("image_url", "TEXT"),
    ("profile_url", "TEXT"),
)


def _collate(collation: str) -> None:
    # One ALTER TABLE, so each index on these columns is rebuilt once, not once per column.
    clauses = ", ".join(
        f'ALTER COLUMN {column} TYPE {type_} COLLATE "{collation}"'
        for column, type_ in TEXT_COLUMNS
    )
    op.execute(sa.text(f"ALTER TABLE users {clauses}"))


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    _collate("C")
    for column, _ in TEXT_COLUMNS:
        op.create_index(
            f"ix_users_{column}_trgm",
            "users",
            [column],
            postgresql_using="gin",
            postgresql_ops={column: "gin_trgm_ops"},
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for column, _ in reversed(TEXT_COLUMNS):
        op.drop_index(f"ix_users_{column}_trgm", table_name="users")
    _collate("default")
    # pg_trgm stays: it may have been there before, and other schemas may use it.
