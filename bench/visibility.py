"""How soon another process sees a write: p50 and p99, on PostgreSQL and on SQLite.

Starts two `userdir serve` processes (A and B) on free 127.0.0.1 ports sharing one throwaway
database with the sample data and the response cache on. Each round: B's GET /restaurant/1 is
cached, a PATCH through A renames the restaurant, and B is asked again and again until it
shows the new name. The delay runs from the moment the PATCH is sent (so it includes the write
itself: an upper bound on the delay after commit) to B's first answer with the new name.

    .venv/bin/python bench/visibility.py [--rounds 200]

BENCH_POSTGRES_DSN overrides postgresql://postgres@127.0.0.1:5432/postgres (127.0.0.1 only).
Bounded: each round gives up after 5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import aiohttp
import support

TOKEN = "bench-visibility-token"
ROUND_TIMEOUT = 5.0


def reset(database_url: str) -> None:
    env = {"DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"}
    subprocess.run(
        [sys.executable, "-m", "userdir.cli", "db", "reset"],
        env={**os.environ, **env},
        cwd=support.ROOT,
        check=True,
        timeout=120,
        stdout=subprocess.DEVNULL,
    )


async def name_at(http: aiohttp.ClientSession, base: str) -> str:
    async with http.get(f"{base}/restaurant/1") as response:
        response.raise_for_status()
        return str((await response.json())["name"])


async def rounds(writer: str, reader: str, count: int) -> list[float]:
    delays = []
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession() as http:
        for n in range(count):
            await name_at(http, reader)  # cached in B now
            name = f"Visibility {n}"
            start = time.perf_counter()
            async with http.patch(
                f"{writer}/restaurant/1", json={"name": name}, headers=auth
            ) as response:
                response.raise_for_status()
            async with asyncio.timeout(ROUND_TIMEOUT):
                while await name_at(http, reader) != name:
                    pass
            delays.append(time.perf_counter() - start)
    return delays


def measure(database_url: str, count: int) -> list[float]:
    reset(database_url)
    env = {"USERDIR_API_TOKENS": TOKEN, "CACHE_TTL": "60"}
    with ExitStack() as stack:
        writer = stack.enter_context(support.serve(database_url, **env))
        reader = stack.enter_context(support.serve(database_url, **env))
        return asyncio.run(rounds(writer, reader, count))


def report(label: str, delays: list[float]) -> str:
    ms = sorted(d * 1000 for d in delays)
    p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
    return (
        f"| {label} | {len(ms)} | {statistics.median(ms):.1f} ms | {p99:.1f} ms "
        f"| {ms[-1]:.1f} ms | {'met' if p99 <= 100 else '**missed**'} |"
    )


async def _postgres(count: int) -> list[float]:
    async with support.database() as url:
        return await asyncio.to_thread(measure, url, count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    rows = [report("PostgreSQL (LISTEN/NOTIFY)", asyncio.run(_postgres(args.rounds)))]
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite+aiosqlite:///{Path(directory) / 'visibility.db'}"
        rows.append(report("SQLite (50 ms poll)", measure(url, args.rounds)))
    print("| Backend | writes | p50 | p99 | max | p99 ≤ 100 ms |")
    print("|---|---:|---:|---:|---:|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
