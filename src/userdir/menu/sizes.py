"""How large nested menu renderings are, remembered per data version, so a request past the
budget (MAX_NESTED_NODES) is refused without loading the menu, and after the first time at a
version without a query at all.

A menu's version changes with every write to it (userdir.datasets.menu), so sizes counted at
a version hold for as long as that version is current; a new version simply misses, and old
entries age out of the bounded LRU.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from userdir.datasets import CacheKey, Dataset
from userdir.lru import Lru

# An entry is a few numbers: this many is well under a megabyte.
SIZES_KEPT = 4096

_Key = tuple[Dataset, int, int | None]


@dataclass(frozen=True, slots=True)
class Totals:
    """Entries of the nested rendering at depth 0, 1, ...; the list ends early at the first
    depth past `budget` (every deeper one is larger)."""

    totals: tuple[int, ...]
    budget: int

    def known(self, depth: int) -> bool:
        return depth < len(self.totals) or self.totals[-1] > self.budget

    def fits(self, depth: int) -> bool:
        return depth < len(self.totals) and self.totals[depth] <= self.budget

    def deepest_fitting(self) -> int | None:
        fitting = [depth for depth, total in enumerate(self.totals) if total <= self.budget]
        return fitting[-1] if fitting else None


class NestedSizes:
    def __init__(self, kept: int = SIZES_KEPT) -> None:
        self._entries: Lru[_Key, Totals] = Lru(kept)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: CacheKey, root: int | None, depth: int) -> Totals | None:
        """What is known at `key`'s version of the rendering from `root` (None: every item),
        if it decides `depth`."""
        entry = self._entries.get((key.dataset, key.version, root))
        return entry if entry is not None and entry.known(depth) else None

    def put(self, key: CacheKey, root: int | None, totals: Sequence[int], budget: int) -> Totals:
        entry = Totals(tuple(totals), budget)
        self._entries.put((key.dataset, key.version, root), entry)
        return entry
