from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from userdir.models.base import Base


class DataVersion(Base):
    """A counter per data set, bumped in the same transaction as every write to that set.

    Cache keys and ETags carry it, so no process (the server, `userdir seed`, a reset) can
    write without every cached response of that set becoming unreachable (see
    userdir.invalidation for how processes learn of new versions).
    """

    __tablename__ = "data_version"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    # Indexed: processes that poll (SQLite) read "every version above the highest seen".
    version: Mapped[int] = mapped_column(BigInteger, index=True)
