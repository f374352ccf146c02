"""users: an index for ordering by username within a type

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_users_type_username", "users", ["type", "username"])


def downgrade() -> None:
    op.drop_index("ix_users_type_username", table_name="users")
