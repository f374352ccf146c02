"""SQLAlchemy 2 typed ORM models. Alembic owns the schema; `Base.metadata` is its target."""

from userdir.models.base import Base
from userdir.models.menu import Item, Restaurant, item_modifier
from userdir.models.user import User
from userdir.models.version import DataVersion

__all__ = ["Base", "DataVersion", "Item", "Restaurant", "User", "item_modifier"]
