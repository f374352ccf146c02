from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from userdir.models.base import Base

# An item's modifiers are items too: a self-referential many-to-many graph whose link carries
# what menu systems put there (order, how many a customer may pick, a price in this context).
# Links are written with Core statements in queries/menu_writes.py, after the graph checks.
item_modifier = Table(
    "item_modifier",
    Base.metadata,
    Column("item_id", ForeignKey("item.id", ondelete="CASCADE"), primary_key=True),
    Column("modifier_id", ForeignKey("item.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, nullable=False, server_default="0"),
    Column("min_select", Integer, nullable=False, server_default="0"),
    # NULL: no upper bound on how many of this modifier a customer may pick.
    Column("max_select", Integer, nullable=True),
    # NULL: the modifier's own price applies; otherwise its price when picked under this item.
    Column("price_cents", Integer, nullable=True),
    CheckConstraint("item_id <> modifier_id", name="no_self_link"),
    CheckConstraint("position >= 0", name="position_not_negative"),
    CheckConstraint("min_select >= 0", name="min_select_not_negative"),
    CheckConstraint(
        "max_select IS NULL OR max_select >= min_select", name="max_select_not_below_min"
    ),
    CheckConstraint("price_cents IS NULL OR price_cents >= 0", name="price_not_negative"),
    # The primary key serves "modifiers of X"; this serves "who uses X as a modifier".
    Index("ix_item_modifier_modifier_id", "modifier_id"),
)


class Restaurant(Base):
    __tablename__ = "restaurant"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))

    items: Mapped[list[Item]] = relationship(
        back_populates="restaurant",
        lazy="raise_on_sql",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class Item(Base):
    __tablename__ = "item"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    restaurant_id: Mapped[int] = mapped_column(
        ForeignKey("restaurant.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    # Money is integer minor units (cents) plus an ISO 4217 code: exact, never a float.
    price_cents: Mapped[int | None] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="USD", server_default="USD")
    available: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    restaurant: Mapped[Restaurant] = relationship(back_populates="items", lazy="raise_on_sql")

    __table_args__ = (
        CheckConstraint("price_cents IS NULL OR price_cents >= 0", name="price_not_negative"),
    )
