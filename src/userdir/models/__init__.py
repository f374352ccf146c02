"""SQLAlchemy 2 typed ORM models. Alembic owns the schema; `Base.metadata` is its target."""

from userdir.models.base import Base
from userdir.models.menu import Item, Restaurant, item_modifier
from userdir.models.user import User

__all__ = ["Base", "Item", "Restaurant", "User", "item_modifier"]
