"""menu graph attributes: item availability, link position, selection bounds, price override

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LINK_CHECKS = {
    "position_not_negative": "position >= 0",
    "min_select_not_negative": "min_select >= 0",
    "max_select_not_below_min": "max_select IS NULL OR max_select >= min_select",
    "price_not_negative": "price_cents IS NULL OR price_cents >= 0",
}


def upgrade() -> None:
    # "item" is altered in place, never rebuilt: on SQLite a rebuild drops the table, and the
    # ON DELETE CASCADE would empty item_modifier. Both databases add and drop a column in place.
    op.add_column(
        "item", sa.Column("available", sa.Boolean(), server_default=sa.true(), nullable=False)
    )
    # item_modifier is rebuilt on SQLite (new CHECK constraints); nothing references it.
    with op.batch_alter_table("item_modifier") as batch:
        batch.add_column(sa.Column("position", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("min_select", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("max_select", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("price_cents", sa.Integer(), nullable=True))
        for name, condition in LINK_CHECKS.items():
            batch.create_check_constraint(op.f(f"ck_item_modifier_{name}"), condition)


def downgrade() -> None:
    with op.batch_alter_table("item_modifier") as batch:
        for name in reversed(LINK_CHECKS):
            batch.drop_constraint(op.f(f"ck_item_modifier_{name}"), type_="check")
        batch.drop_column("price_cents")
        batch.drop_column("max_select")
        batch.drop_column("min_select")
        batch.drop_column("position")
    op.drop_column("item", "available")
