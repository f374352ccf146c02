from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from userdir.models.base import Base

# An item's modifiers are items too: a self-referential many-to-many graph.
item_modifier = Table(
    "item_modifier",
    Base.metadata,
    Column("item_id", ForeignKey("item.id", ondelete="CASCADE"), primary_key=True),
    Column("modifier_id", ForeignKey("item.id", ondelete="CASCADE"), primary_key=True),
    CheckConstraint("item_id <> modifier_id", name="no_self_link"),
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

    restaurant: Mapped[Restaurant] = relationship(back_populates="items", lazy="raise_on_sql")
    modifiers: Mapped[list[Item]] = relationship(
        secondary=item_modifier,
        primaryjoin=lambda: Item.id == item_modifier.c.item_id,
        secondaryjoin=lambda: Item.id == item_modifier.c.modifier_id,
        lazy="raise_on_sql",
        passive_deletes=True,
    )

    __table_args__ = (
        CheckConstraint("price_cents IS NULL OR price_cents >= 0", name="price_not_negative"),
    )
