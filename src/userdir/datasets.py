"""The data sets whose versions key cached responses, and those keys.

Each data set is named once: the write that bumps its version and the read that keys on it use
the same constant.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import NewType

Dataset = NewType("Dataset", str)

USERS = Dataset("users")
RESTAURANTS = Dataset("restaurants")  # the restaurant list (names, paging)


def menu(restaurant_id: int) -> Dataset:
    """One restaurant's menu and details: its writes never expire other menus."""
    return Dataset(f"menu:{restaurant_id}")


@dataclass(frozen=True, slots=True)
class CacheKey:
    """What a cached response is stored under: its data set's version and the normalized
    request (query and representation). The ETag derives from it, so a 304 needs nothing else."""

    dataset: Dataset
    version: int
    request: str
    # Worked out once: a cache hit reads it, and it is the hit's only string building.
    text: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", f"{self.dataset}:{self.version}:{self.request}")

    @property
    def etag(self) -> str:
        """A strong validator: the data version and the normalized request fix the body."""
        return f'"{hashlib.blake2b(self.text.encode(), digest_size=16).hexdigest()}"'

    def at(self, version: int) -> CacheKey:
        return self if version == self.version else replace(self, version=version)
