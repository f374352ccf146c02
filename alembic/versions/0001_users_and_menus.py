"""users and menus

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "data_version",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_data_version")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("image_url", sa.Text(), nullable=False),
        sa.Column("profile_url", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_index("ix_users_type_id", "users", ["type", "id"])
    op.create_index("ix_users_image_url", "users", ["image_url"])
    op.create_index("ix_users_profile_url", "users", ["profile_url"])

    op.create_table(
        "restaurant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_restaurant")),
    )
    op.create_table(
        "item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("restaurant_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("price_cents", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(length=3), server_default="USD", nullable=False),
        sa.CheckConstraint(
            "price_cents IS NULL OR price_cents >= 0", name=op.f("ck_item_price_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["restaurant_id"],
            ["restaurant.id"],
            name=op.f("fk_item_restaurant_id_restaurant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item")),
    )
    op.create_index("ix_item_restaurant_id", "item", ["restaurant_id"])
    op.create_table(
        "item_modifier",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("modifier_id", sa.Integer(), nullable=False),
        sa.CheckConstraint("item_id <> modifier_id", name=op.f("ck_item_modifier_no_self_link")),
        sa.ForeignKeyConstraint(
            ["item_id"], ["item.id"], name=op.f("fk_item_modifier_item_id_item"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["modifier_id"],
            ["item.id"],
            name=op.f("fk_item_modifier_modifier_id_item"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("item_id", "modifier_id", name=op.f("pk_item_modifier")),
    )
    op.create_index("ix_item_modifier_modifier_id", "item_modifier", ["modifier_id"])


def downgrade() -> None:
    op.drop_table("item_modifier")
    op.drop_table("item")
    op.drop_table("restaurant")
    op.drop_table("users")
    op.drop_table("data_version")
