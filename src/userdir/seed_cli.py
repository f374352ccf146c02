"""`userdir seed`: the engine, the client, signals and progress around the seeding loop."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from userdir import migrations
from userdir.config import Settings
from userdir.db import censored, create_sessionmaker
from userdir.github import GitHubClient, RetryPolicy
from userdir.progress import SeedProgress, choose_progress
from userdir.seed import (
    SeedError,
    SeedInterrupted,
    SeedReport,
    create_seed_engine,
    seed_from_api,
    seed_from_file,
)

# What the shell expects of a process stopped by a signal: 128 + its number.
SIGNAL_EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143}


async def run_seed(
    settings: Settings,
    *,
    total: int,
    since: int | None,
    from_file: Path | None,
    wait: bool,
    quiet: bool,
    progress: SeedProgress | None = None,
) -> SeedReport:
    """Seed the database; raises SeedError (one line) on failure or on SIGINT/SIGTERM."""
    progress = progress or choose_progress(quiet)
    report = SeedReport()
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    received: list[signal.Signals] = []

    def interrupt(signum: signal.Signals) -> None:
        received.append(signum)
        task.cancel()

    handled = []
    for signum in SIGNAL_EXIT:
        try:
            loop.add_signal_handler(signum, interrupt, signum)
        except (ValueError, RuntimeError):  # not the main thread: signals are not ours to take
            continue
        handled.append(signum)
    engine = create_seed_engine(settings.database_url, pgbouncer=settings.db_pgbouncer)
    try:
        await migrations.upgrade(engine)
        sessionmaker = create_sessionmaker(engine)
        if from_file is not None:
            await seed_from_file(sessionmaker, from_file, progress=progress, report=report)
        else:
            async with GitHubClient(
                settings.github_api_url,
                settings.github_tokens,
                wait_for_reset=wait,
                retry=RetryPolicy(attempts=settings.github_retries),
                on_wait=progress.waiting,
            ) as client:
                await seed_from_api(
                    sessionmaker,
                    client,
                    total=total,
                    since=since,
                    progress=progress,
                    report=report,
                )
    except asyncio.CancelledError:
        if not received:
            raise
        raise SeedInterrupted(
            f"interrupted by {received[0].name}; {report.summary()}, run again to resume",
            SIGNAL_EXIT[received[0]],
        ) from None
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise SeedError(
            f"database error on {censored(settings.database_url)}: {reason}; {report.summary()}"
        ) from None
    finally:
        progress.close()
        for signum in handled:
            loop.remove_signal_handler(signum)
        await engine.dispose()
    return report
