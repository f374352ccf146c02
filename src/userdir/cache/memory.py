"""The in-process cache: an LRU bounded by the bytes it holds, with per-entry expiry."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from userdir.cache.entry import Entry

Clock = Callable[[], float]


class MemoryCache:
    """Entries are kept as objects (no serialization); the clock is injectable so tests never
    sleep. `max_bytes` bounds what the entries hold, bodies and headers, not their count."""

    def __init__(self, max_bytes: int, clock: Clock = time.monotonic) -> None:
        self.max_bytes = max_bytes
        self.clock = clock
        self.held_bytes = 0
        self._entries: OrderedDict[str, tuple[float, Entry]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def available(self) -> bool:
        return True

    @property
    def state(self) -> str:
        return "ok"

    async def get(self, key: str) -> Entry | None:
        found = self._entries.get(key)
        if found is None:
            return None
        expires_at, entry = found
        if expires_at <= self.clock():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry

    async def set(self, key: str, entry: Entry, ttl: float) -> None:
        if key in self._entries:
            self._drop(key)
        if entry.size > self.max_bytes:
            return
        self._entries[key] = (self.clock() + ttl, entry)
        self.held_bytes += entry.size
        while self.held_bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: str) -> None:
        _, entry = self._entries.pop(key)
        self.held_bytes -= entry.size

    async def close(self) -> None:
        self._entries.clear()
        self.held_bytes = 0
