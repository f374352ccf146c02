"""data_version: an index on version, for reading what changed since a version

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_data_version_version", "data_version", ["version"])


def downgrade() -> None:
    op.drop_index("ix_data_version_version", table_name="data_version")
