"""Where a cached hit's time goes, against the ceiling: userdir's `/livez` (the middleware
chain alone: no database, no cache), a cached `/users?pagination=1` and a cached `/users`
(25 rows), each beside `bench/ceiling.py` in the same sitting.

    .venv/bin/python bench/hit_overhead.py [--rounds 2] [--duration 5]

SQLite with the sample data in a temporary directory; wrk `-t2 -c64` on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

import support

PATHS = ("/livez", "/users?pagination=1", "/users")


def wrk(url: str, duration: int) -> float:
    out = subprocess.run(
        ["wrk", "-t2", "-c64", f"-d{duration}s", url], capture_output=True, text=True, check=True
    ).stdout
    return float(next(line for line in out.splitlines() if "Requests/sec" in line).split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite+aiosqlite:///{directory}/hits.db"
        subprocess.run(
            [sys.executable, "-m", "userdir.cli", "db", "reset"],
            env={**os.environ, "DATABASE_URL": url},
            check=True,
            capture_output=True,
            timeout=120,
        )
        ceiling_port = support.free_port()
        ceiling_url = f"http://127.0.0.1:{ceiling_port}/"
        ceiling = ["bench/ceiling.py", "--port", str(ceiling_port)]
        with support.running(ceiling, ceiling_url), support.serve(url, CACHE_TTL="600") as base:
            for path in PATHS:  # fill the cache
                wrk(base + path, 1)
            print("| round | ceiling | " + " | ".join(f"`{p}`" for p in PATHS) + " |")
            print("|---|---:|" + "---:|" * len(PATHS))
            for n in range(1, args.rounds + 1):
                top = wrk(ceiling_url, args.duration)
                cells = [
                    f"{r:,.0f} ({r / top:.2f}×)"
                    for r in (wrk(base + p, args.duration) for p in PATHS)
                ]
                print(f"| {n} | {top:,.0f} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
