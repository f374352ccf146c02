"""Counts of the users directory, remembered per data version: one count per (version, filters,
mode) per process, so a page missed by the response cache runs only its page query.

Every write to users bumps the version in the same transaction, and a read keyed at a version
sees rows at least that new: a count kept for a version is never older than it, exactly or by
an estimate that was fair when taken (a write since then brings a new version, so a new
count). A new version simply misses; old entries age out of the
bounded LRU. Concurrent first misses may each count once: a count is never waited for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from userdir.datasets import CacheKey
from userdir.directory import Count, Filter
from userdir.lru import Lru

# Entries are small (the filters and two numbers); a URL bounds the filters to a few KB, so
# even the worst case stays within a few MB.
COUNTS_KEPT = 1024

_Key = tuple[int, tuple[Filter, ...], str]


class Counts(Lru[_Key, Count]):
    def __init__(self, kept: int = COUNTS_KEPT) -> None:
        super().__init__(kept)

    def at(self, key: CacheKey | None) -> CountsAt:
        """The counts at the data version `key` names; None (no version known): none kept."""
        return CountsAt(self if key is not None else None, 0 if key is None else key.version)


@dataclass(frozen=True, slots=True)
class CountsAt:
    """What a page query asks: the count of these filters in this mode, at one version."""

    counts: Counts | None
    version: int

    def get(self, filters: Sequence[Filter], mode: str) -> Count | None:
        if self.counts is None:
            return None
        return self.counts.get((self.version, tuple(filters), mode))

    def put(self, filters: Sequence[Filter], mode: str, count: Count) -> None:
        if self.counts is not None:
            self.counts.put((self.version, tuple(filters), mode), count)


NOT_KEPT = CountsAt(None, 0)
