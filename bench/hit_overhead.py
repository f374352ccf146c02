"""Where a request's time goes, against the ceiling: userdir's `/livez` (the middleware chain
alone: no database, no cache), cached `/users?pagination=1`, `/users` (25 rows) and
`/restaurant/1/item` on SQLite, and an uncached `/users` page on PostgreSQL (`CACHE_TTL=0`),
each beside `bench/ceiling.py` in the same sitting.

With `--baseline DIR` (DIR from `git archive REV src alembic alembic.ini | tar -x -C DIR`),
every row runs on that revision too, in the same rounds, and the table ends with the medians
and after ÷ before: a before/after that one quiet or busy moment cannot skew.

    .venv/bin/python bench/hit_overhead.py [--rounds 2] [--duration 5] [--baseline DIR]

SQLite and PostgreSQL (a throwaway database) hold the sample data; wrk `-t2 -c64` on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import support

CACHED = ("/livez", "/users?pagination=1", "/users", "/restaurant/1/item")
UNCACHED = "/users"
LOAD_TIMEOUT = 120


def wrk(url: str, duration: int) -> float:
    out = subprocess.run(
        ["wrk", "-t2", "-c64", f"-d{duration}s", url], capture_output=True, text=True, check=True
    ).stdout
    return float(next(line for line in out.splitlines() if "Requests/sec" in line).split()[-1])


def load_sample(url: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "userdir.cli", "db", "reset"],
        env={**os.environ, "DATABASE_URL": url},
        check=True,
        capture_output=True,
        timeout=LOAD_TIMEOUT,
    )


@contextlib.contextmanager
def postgresql() -> Iterator[str]:
    """A throwaway PostgreSQL database with the sample data, dropped afterwards."""
    name = support.database_name()
    asyncio.run(support.admin(f'CREATE DATABASE "{name}"'))  # generated name, never input
    try:
        url = support.sqlalchemy_url(name)
        load_sample(url)
        yield url
    finally:
        asyncio.run(support.drop_database(name))


def servers(
    stack: contextlib.ExitStack, sqlite: str, pg: str, code: dict[str, str]
) -> dict[str, str]:
    """The URL of every row on one revision of the code, served for the stack's life."""
    cached = stack.enter_context(support.serve(sqlite, CACHE_TTL="600", **code))
    uncached = stack.enter_context(support.serve(pg, CACHE_TTL="0", **code))
    urls = {f"`{path}`": cached + path for path in CACHED}
    urls[f"`{UNCACHED}` uncached, PostgreSQL"] = uncached + UNCACHED
    for url in urls.values():  # fill the cache, warm the pool
        wrk(url, 1)
    return urls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--baseline", type=Path, help="another revision's tree, run beside")
    args = parser.parse_args()
    revisions: dict[str, dict[str, str]] = {"after": {}}
    if args.baseline is not None:
        revisions["before"] = {"PYTHONPATH": str(args.baseline.resolve() / "src")}
    with tempfile.TemporaryDirectory() as directory, postgresql() as pg:
        sqlite = f"sqlite+aiosqlite:///{directory}/hits.db"
        load_sample(sqlite)
        ceiling_port = support.free_port()
        ceiling_url = f"http://127.0.0.1:{ceiling_port}/"
        ceiling = ["bench/ceiling.py", "--port", str(ceiling_port)]
        with support.running(ceiling, ceiling_url), contextlib.ExitStack() as stack:
            urls = {name: servers(stack, sqlite, pg, code) for name, code in revisions.items()}
            rows = list(urls["after"])
            ratios: dict[tuple[str, str], list[float]] = {}
            print("| round | revision | ceiling | " + " | ".join(rows) + " |")
            print("|---|---|---:|" + "---:|" * len(rows))
            for n in range(1, args.rounds + 1):
                top = wrk(ceiling_url, args.duration)
                for name, by_row in urls.items():
                    cells = []
                    for row in rows:
                        rate = wrk(by_row[row], args.duration)
                        ratios.setdefault((name, row), []).append(rate / top)
                        cells.append(f"{rate:,.0f} ({rate / top:.2f}×)")
                    print(f"| {n} | {name} | {top:,.0f} | " + " | ".join(cells) + " |", flush=True)
    if args.baseline is None:
        return
    print("\n| row | before (median ÷ ceiling) | after | after ÷ before |\n|---|---:|---:|---:|")
    for row in rows:
        before = statistics.median(ratios[("before", row)])
        after = statistics.median(ratios[("after", row)])
        print(f"| {row} | {before:.3f}× | {after:.3f}× | {after / before:.2f} |")


if __name__ == "__main__":
    main()
