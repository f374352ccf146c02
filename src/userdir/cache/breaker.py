"""A circuit breaker: after a failure, skip a service for a growing cool-down, and probe it
in the background until it answers again. One log line when it opens, one when it closes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Probe = Callable[[], Awaitable[object]]


class Breaker:
    def __init__(
        self,
        name: str,
        probe: Probe,
        *,
        first_cooldown: float = 0.5,
        max_cooldown: float = 30.0,
    ) -> None:
        self.name = name
        self.probe = probe
        self.first_cooldown = first_cooldown
        self.max_cooldown = max_cooldown
        self.closed = True
        self.opened_at = 0.0
        self.skipped = 0  # calls not made while open, for the recovery log line
        self._prober: asyncio.Task[None] | None = None

    def allow(self) -> bool:
        if self.closed:
            return True
        self.skipped += 1
        return False

    def failed(self, exc: BaseException) -> None:
        """A call failed: open (once), and let the prober find out when to close."""
        if not self.closed:
            return
        self.closed = False
        self.opened_at = time.monotonic()
        self.skipped = 0
        log.warning(
            "%s unavailable (%s: %s): skipping it, probing again in %.1f s",
            self.name,
            type(exc).__name__,
            str(exc) or "no answer in time",
            self.first_cooldown,
        )
        self._prober = asyncio.get_running_loop().create_task(self._probe_until_closed())

    async def _probe_until_closed(self) -> None:
        cooldown = self.first_cooldown
        while True:
            await asyncio.sleep(cooldown)
            try:
                await self.probe()
            except Exception:  # any failure means "not yet"; the opening line said why
                cooldown = min(cooldown * 2, self.max_cooldown)
                continue
            self.closed = True
            log.warning(
                "%s is back after %.1f s (%d calls skipped meanwhile)",
                self.name,
                time.monotonic() - self.opened_at,
                self.skipped,
            )
            return

    async def close(self) -> None:
        if self._prober is not None:
            self._prober.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._prober
