from sqlalchemy import BigInteger, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from userdir.models.base import Base


class User(Base):
    """A GitHub account mirrored from the list-users API; the primary key is GitHub's id."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # GitHub logins are at most 39 characters; 255 leaves room without being unbounded.
    username: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(32))
    image_url: Mapped[str] = mapped_column(Text)
    profile_url: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        # Filter by type and page in id order (the default ordering) from one index.
        Index("ix_users_type_id", "type", "id"),
        # Filter by type and order by username, or order by type then username (either way).
        Index("ix_users_type_username", "type", "username"),
        Index("ix_users_image_url", "image_url"),
        Index("ix_users_profile_url", "profile_url"),
    )
