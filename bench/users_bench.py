"""Benchmark GET /users at 1,000,000 rows on PostgreSQL, uncached.

Creates a throwaway database, loads synthetic users with COPY, starts `userdir serve` on a free
127.0.0.1 port with CACHE_TTL=0, drives it with wrk (Debian package `wrk`, installed with
apt-get when missing and running as root), and reports requests/s, p50 and p99 for:

  page 1; page 20,000 reached by cursor; page 20,000 by page_number; a filter plus ordering.

Usage: .venv/bin/python bench/users_bench.py [--rows 1000000] [--duration 10]
Environment: BENCH_POSTGRES_DSN (default postgresql://postgres@127.0.0.1:5432/postgres).
Bounded: about a minute to load and index, then `duration` seconds per scenario.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import support  # noqa: E402

from userdir.cursor import derive_secret, encode_cursor  # noqa: E402
from userdir.directory import UsersQuery  # noqa: E402

SECRET = "bench-cursor-secret"
PAGE_SIZE = 25
DEEP_PAGE = 20_000
COPY_BATCH = 100_000


def synthetic(start: int, stop: int) -> list[tuple[int, str, str, str, str]]:
    rows = []
    for i in range(start, stop):
        # Usernames are not in id order, so ordering by them is a real sort.
        name = f"u{(i * 7919) % 1_000_003:07d}x{i}"
        kind = "Organization" if i % 10 == 0 else "User"
        rows.append(
            (
                i,
                name,
                kind,
                f"https://avatars.example.test/u/{i}?v=4",
                f"https://example.test/{name}",
            )
        )
    return rows


async def create_database(name: str, rows: int) -> str:
    url = await support.create_database(name)
    conn = await asyncpg.connect(support.dsn(name))
    try:
        started = time.monotonic()
        for start in range(1, rows + 1, COPY_BATCH):
            records = synthetic(start, min(start + COPY_BATCH, rows + 1))
            await conn.copy_records_to_table(
                "users",
                records=records,
                columns=["id", "username", "type", "image_url", "profile_url"],
            )
        await conn.execute("INSERT INTO data_version (name, version) VALUES ('users', 1)")
        await conn.execute("VACUUM ANALYZE users")
        print(f"loaded {rows:,} users in {time.monotonic() - started:.1f}s", flush=True)
    finally:
        await conn.close()
    return url


def fetch(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk missing: apt-get update && apt-get install -y wrk", flush=True)
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
        found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is required: install the Debian package wrk")
    return found


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def run_wrk(wrk: str, url: str, duration: int) -> dict[str, float]:
    out = subprocess.run(
        [wrk, "-t2", "-c8", f"-d{duration}s", "--timeout", "30s", "--latency", url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"non-2xx responses for {url}:\n{out}")
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}  # type: ignore[union-attr]
    for pct in ("50", "99"):
        value, unit = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s|m)$", out, re.M).groups()  # type: ignore[union-attr]
        result[f"p{pct}_ms"] = float(value) * UNITS[unit]
    return result


def scenarios_for(base: str, url: str, rows: int) -> tuple[int, dict[str, str]]:
    # Page 20,000 starts after row 499,975 of the id order; the cursor is what the
    # next link of page 19,999 carries (checked below against page_number).
    deep = min(DEEP_PAGE, rows // PAGE_SIZE)  # smaller only for trial runs
    last_id = (deep - 1) * PAGE_SIZE
    secret = derive_secret(SECRET, url)
    cursor = encode_cursor(secret, UsersQuery().bound_to, [last_id])
    return deep, {
        "page 1": f"{base}/users?pagination={PAGE_SIZE}",
        f"page {deep:,} by cursor": f"{base}/users?pagination={PAGE_SIZE}&after={cursor}",
        f"page {deep:,} by page_number": f"{base}/users?pagination={PAGE_SIZE}&page_number={deep}",
        "filter + ordering": (
            f"{base}/users?type=Organization&order_by=-username&pagination={PAGE_SIZE}"
        ),
    }


def measure(wrk: str, base: str, url: str, rows: int, duration: int) -> int:
    deep, scenarios = scenarios_for(base, url, rows)
    by_cursor = fetch(scenarios[f"page {deep:,} by cursor"])
    by_number = fetch(scenarios[f"page {deep:,} by page_number"])
    assert by_cursor == by_number and len(by_cursor) == PAGE_SIZE, "cursor page differs"
    results = {}
    for label, target in scenarios.items():
        fetch(target)  # warm the plan and connection pool
        results[label] = run_wrk(wrk, target, duration)
        r = results[label]
        print(
            f"{label:32} {r['rps']:8.1f} req/s  p50 {r['p50_ms']:8.2f} ms"
            f"  p99 {r['p99_ms']:8.2f} ms",
            flush=True,
        )
    ratio = results[f"page {deep:,} by cursor"]["p99_ms"] / results["page 1"]["p99_ms"]
    print(f"cursor page p99 / page 1 p99 = {ratio:.2f} (target <= 2)")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "users_bench.json").write_text(json.dumps({"rows": rows, **results}, indent=2))
    return 0 if ratio <= 2 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--duration", type=int, default=10, help="seconds per scenario")
    args = parser.parse_args()
    wrk = ensure_wrk()
    name = support.database_name()
    try:
        url = asyncio.run(create_database(name, args.rows))
        with support.serve(url, CACHE_TTL="0", CURSOR_SECRET=SECRET) as base:
            return measure(wrk, base, url, args.rows, args.duration)
    finally:
        asyncio.run(support.drop_database(name))


if __name__ == "__main__":
    sys.exit(main())
