from sqlalchemy import BigInteger, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from userdir.models.base import Base

# Text compares in code point order on PostgreSQL whatever the database's locale, as on SQLite
# (BINARY): ordering and cursors agree across backends, and the planner turns a prefix LIKE
# into a plain btree range (it does so only under the "C" collation).
CODE_POINTS = "C"

# The text columns a substring filter (contains, icontains) may name: each has a trigram index.
TRIGRAM_COLUMNS = ("username", "type", "image_url", "profile_url")


def _text(length: int | None = None) -> String:
    plain = String(length) if length else Text()
    coded = String(length, collation=CODE_POINTS) if length else Text(collation=CODE_POINTS)
    return plain.with_variant(coded, "postgresql")


def _trigram_index(column: str) -> Index:
    # GIN over pg_trgm's trigrams serves LIKE and ILIKE with a pattern of 3+ characters
    # anywhere in the value; PostgreSQL only (migration 0005 creates the extension).
    return Index(
        f"ix_users_{column}_trgm",
        column,
        postgresql_using="gin",
        postgresql_ops={column: "gin_trgm_ops"},
    ).ddl_if(dialect="postgresql")


class User(Base):
    """A GitHub account mirrored from the list-users API; the primary key is GitHub's id."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # GitHub logins are at most 39 characters; 255 leaves room without being unbounded.
    username: Mapped[str] = mapped_column(_text(255), unique=True)
    type: Mapped[str] = mapped_column(_text(32))
    image_url: Mapped[str] = mapped_column(_text())
    profile_url: Mapped[str] = mapped_column(_text())

    __table_args__ = (
        # Filter by type and page in id order (the default ordering) from one index.
        Index("ix_users_type_id", "type", "id"),
        # Filter by type and order by username, or order by type then username (either way).
        Index("ix_users_type_username", "type", "username"),
        Index("ix_users_image_url", "image_url"),
        Index("ix_users_profile_url", "profile_url"),
        *(_trigram_index(column) for column in TRIGRAM_COLUMNS),
    )
