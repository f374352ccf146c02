"""Linking a modifier on the 10,000-item / 50,000-link benchmark menu, on PostgreSQL.

Loads menu_bench.py's generated menu into a throwaway database, starts `userdir serve` on a free
127.0.0.1 port, and times sequential `PUT /restaurant/1/item/{id}/modifiers/{id}` requests:
new links accepted (201), links refused as cycles (409), and existing links updated (200).

    .venv/bin/python bench/link_bench.py [--requests 40]

Goal: p50 ≤ 20 ms for each. BENCH_POSTGRES_DSN overrides the server (127.0.0.1 only).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time

import aiohttp
import support
from menu_bench import DEPTH, ITEMS, generate, load

TOKEN = "bench-link-token"
GOAL_MS = 20.0


def candidates(count: int) -> dict[str, list[tuple[int, int]]]:
    """Links of each kind on the generated menu: new (a later layer), a cycle (back to an
    earlier layer that reaches the item), and existing ones."""
    rng = random.Random(11)
    _, links = generate()
    existing = set(links)
    per_layer = ITEMS // (DEPTH + 1)
    first_layer, last_layer = range(1, per_layer + 1), range(ITEMS - per_layer + 1, ITEMS + 1)
    chain_end = 1 + DEPTH * per_layer  # the last item of the spine (see generate)
    new: list[tuple[int, int]] = []
    while len(new) < count:
        pair = (rng.choice(first_layer), rng.choice(last_layer))
        if pair not in existing and pair not in new:
            new.append(pair)
    return {
        "new link (201)": new,
        # The menu's spine runs 1 -> ... -> chain_end: its end linking back to 1 is a cycle.
        "cycle refused (409)": [(chain_end, 1)] * count,
        "existing link updated (200)": rng.sample(links, count),
    }


async def measure(http: aiohttp.ClientSession, base: str, pairs: list[tuple[int, int]]) -> str:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    times, statuses = [], set()
    for item, modifier in pairs:
        url = f"{base}/restaurant/1/item/{item}/modifiers/{modifier}"
        start = time.perf_counter()
        async with http.put(url, json={"min_select": 0}, headers=auth) as response:
            await response.read()
        times.append((time.perf_counter() - start) * 1000)
        statuses.add(response.status)
    p50 = statistics.median(times)
    verdict = "met" if p50 <= GOAL_MS else "**missed**"
    return f"{p50:.1f} ms | {max(times):.1f} ms | {sorted(statuses)} | {verdict}"


async def run(requests: int) -> None:
    async with support.database() as url:
        await load(url)  # with planner statistics, as autovacuum would gather them
        with support.serve(url, USERDIR_API_TOKENS=TOKEN) as base:
            async with aiohttp.ClientSession() as http:
                print("| PUT …/modifiers/{id}, 10,000 items | p50 | max | statuses | p50 ≤ 20 ms |")
                print("|---|---:|---:|---|---|")
                for label, pairs in candidates(requests).items():
                    print(f"| {label} | {await measure(http, base, pairs)} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40)
    asyncio.run(run(parser.parse_args().requests))


if __name__ == "__main__":
    main()
