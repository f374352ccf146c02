"""Seeding progress: a rich bar on a terminal, periodic log lines otherwise, or nothing."""

from __future__ import annotations

import logging
import sys
import time
from typing import Protocol, TextIO

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)

from userdir.github import Clock, format_duration

log = logging.getLogger("userdir.seed")


class SeedProgress(Protocol):
    def start(self, total: int | None, source: str) -> None: ...
    def advance(self, stored: int, last_id: int | None) -> None: ...
    def waiting(self, seconds: float, reason: str) -> None: ...
    def warn(self, message: str) -> None: ...
    def close(self) -> None: ...


class QuietProgress:
    """--quiet: no progress at all; skipped records are still reported on stderr."""

    def start(self, total: int | None, source: str) -> None:
        pass

    def advance(self, stored: int, last_id: int | None) -> None:
        pass

    def waiting(self, seconds: float, reason: str) -> None:
        pass

    def warn(self, message: str) -> None:
        log.warning("%s", message)

    def close(self) -> None:
        pass


class LogProgress(QuietProgress):
    """Not a terminal: one log line at most every `interval` seconds, and one per wait."""

    def __init__(self, interval: float = 5.0, clock: Clock = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self.total: int | None = None
        self.done = 0
        self.started = self.last_line = 0.0

    def start(self, total: int | None, source: str) -> None:
        self.total = total
        self.started = self.last_line = self.clock()
        log.info("seeding %s users from %s", total if total is not None else "all", source)

    def advance(self, stored: int, last_id: int | None) -> None:
        self.done += stored
        now = self.clock()
        if now - self.last_line >= self.interval:
            self.last_line = now
            elapsed = max(now - self.started, 1e-9)
            of = f"/{self.total}" if self.total is not None else ""
            log.info(
                "seeded %d%s users (%.0f users/s), last id %s",
                self.done,
                of,
                self.done / elapsed,
                last_id,
            )

    def waiting(self, seconds: float, reason: str) -> None:
        log.warning("%s: waiting %s", reason, format_duration(seconds))


class RichProgress(QuietProgress):
    """A terminal: a bar with the count, the rate and the time left; waits show in its label."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.console = Console(file=stream)
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self.task = self.bar.add_task("seeding", total=None, rate="", start=False)
        self.started = 0.0
        self.done = 0

    def start(self, total: int | None, source: str) -> None:
        self.started = time.monotonic()
        self.bar.update(self.task, total=total, description="seeding users")
        self.bar.start_task(self.task)
        self.bar.start()

    def advance(self, stored: int, last_id: int | None) -> None:
        self.done += stored
        rate = self.done / max(time.monotonic() - self.started, 1e-9)
        self.bar.update(
            self.task, advance=stored, description="seeding users", rate=f"{rate:,.0f} users/s"
        )

    def waiting(self, seconds: float, reason: str) -> None:
        label = f"[yellow]{escape(reason)}: {format_duration(seconds)}[/]"
        self.bar.update(self.task, description=label)

    def warn(self, message: str) -> None:
        self.bar.console.print(
            f"[yellow]warning:[/] {escape(message)}", markup=True, highlight=False
        )

    def close(self) -> None:
        self.bar.stop()


def choose_progress(quiet: bool, stream: TextIO = sys.stderr) -> SeedProgress:
    if quiet:
        return QuietProgress()
    if stream.isatty():
        return RichProgress(stream)
    return LogProgress()
