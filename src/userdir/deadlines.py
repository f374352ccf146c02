"""REQUEST_TIMEOUT: a handler that has not started its response in time is cancelled (503).

One sweeping timer serves every request in flight. A timer per request (asyncio.timeout) costs
a timer-heap insertion and removal on every request, cache hits included, which are most of
them; here a request costs a dictionary entry, and a deadline is kept to within a tenth of the
timeout (at most a second).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from userdir.keys import DEADLINES, SETTINGS


class Deadlines:
    def __init__(self, timeout: float, loop: asyncio.AbstractEventLoop) -> None:
        self.timeout = timeout
        self.loop = loop
        self.interval = min(1.0, max(0.01, timeout / 10))
        self._open: dict[asyncio.Timeout, float] = {}

    def start(self) -> asyncio.Timeout:
        """A timeout to enter at once (`async with`), released when the handler is done."""
        deadline = asyncio.Timeout(None)
        self._open[deadline] = self.loop.time() + self.timeout
        return deadline

    def release(self, deadline: asyncio.Timeout) -> None:
        self._open.pop(deadline, None)

    async def sweep(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            now = self.loop.time()
            for deadline in [d for d, end in self._open.items() if end <= now]:
                del self._open[deadline]
                deadline.reschedule(now)  # expires at once: the handler's task is cancelled


async def deadlines_ctx(app: web.Application) -> AsyncIterator[None]:
    deadlines = Deadlines(app[SETTINGS].request_timeout, asyncio.get_running_loop())
    app[DEADLINES] = deadlines
    sweeper = asyncio.create_task(deadlines.sweep())
    try:
        yield
    finally:
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper
