"""REQUEST_TIMEOUT: a handler that has not started its response in time is cancelled (503).

One sweeping timer serves every request in flight: it cancels the task of a request past its
deadline, and the error middleware turns that cancellation into a 503. An asyncio.Timeout per
request, even one only this sweep reschedules, costs its object and context manager on every
request, cache hits included, which are most of them: with one, `/livez` served 0.69–0.70× a
trivial aiohttp handler's requests a second, without 0.80–0.87× (bench/README). Here a request
costs a dictionary entry, and a deadline is kept to within a tenth of the timeout (at most a
second).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from userdir.keys import DEADLINES, SETTINGS

Task = asyncio.Task[Any]


class Deadlines:
    def __init__(self, timeout: float, loop: asyncio.AbstractEventLoop) -> None:
        self.timeout = timeout
        self.loop = loop
        self.interval = min(1.0, max(0.01, timeout / 10))
        self._open: dict[Task, float] = {}
        self._cut: set[Task] = set()

    def start(self) -> Task:
        """Bound the running task (a request's handler) until `release`."""
        task = asyncio.current_task()
        assert task is not None, "deadlines bound tasks"
        self._open[task] = self.loop.time() + self.timeout
        return task

    def release(self, task: Task) -> None:
        self._open.pop(task, None)
        if task in self._cut:  # cut, but the handler turned the cancellation into an error
            self._cut.discard(task)
            task.uncancel()  # the connection's task serves its next request uncancelled

    def cut(self, task: Task) -> bool:
        """Whether a CancelledError in `task` is this deadline's: then the cancellation is
        taken back and the request is answered; otherwise it goes on (a client gone, a shutdown)."""
        if task not in self._cut:
            return False
        self._cut.discard(task)
        return task.uncancel() == 0

    def expire(self, now: float) -> None:
        for task in [t for t, end in self._open.items() if end <= now]:
            del self._open[task]
            self._cut.add(task)
            task.cancel()

    async def sweep(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.expire(self.loop.time())


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
