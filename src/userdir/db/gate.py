"""First come, first served: at most as many sessions of a source as its pool holds.

SQLAlchemy's asyncio pool hands a returned connection to whoever asks next, and a request that
arrives while a waiter is being woken can take it first; the waiter then queues again at the
back. Under a steady overload (64 clients on a pool of 20) some requests waited past
DB_POOL_TIMEOUT and got a 503 while later ones went through. asyncio.Semaphore gives a released
slot to the longest waiter, and nobody passes it while anyone waits, so every request waits its
turn; the pool behind the gate always has a connection for whoever holds a slot.
"""

from __future__ import annotations

import asyncio

from sqlalchemy.exc import TimeoutError as PoolTimeout


class Gate:
    def __init__(self, capacity: int, timeout: float) -> None:
        self._slots = asyncio.Semaphore(capacity)
        self.timeout = timeout
        self.waiting = 0  # requests waiting for a slot (the metrics' pool waiters)

    async def acquire(self) -> None:
        """Take a slot, or raise the pool's own timeout error after `timeout` seconds."""
        if not self._slots.locked():  # a slot is free and nobody waits: no timer needed
            await self._slots.acquire()
            return
        self.waiting += 1
        try:
            async with asyncio.timeout(self.timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise PoolTimeout(f"no database connection free within {self.timeout} s") from None
        finally:
            self.waiting -= 1

    def release(self) -> None:
        self._slots.release()
