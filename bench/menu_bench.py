"""Menu read benchmark on PostgreSQL: a generated menu of 10,000 items, 50,000 links, depth 8.

Creates a throwaway database, loads the menu, starts `userdir serve` on 127.0.0.1 (a free
port) once with the response cache off and once with it on, times sequential requests, then
stops the servers and drops the database. Bounded: every request and step has a timeout.

    .venv/bin/python bench/menu_bench.py [--requests 40] [--json bench/results/menu.json]
        [--baseline DIR]   # e.g. DIR from: git archive main src alembic alembic.ini | tar -x -C DIR

Ends with the rows that have a goal: their p50 beside the goal (GOALS), and whether it is met.

BENCH_POSTGRES_DSN overrides postgresql://postgres@127.0.0.1:5432/postgres (127.0.0.1 only).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import statistics
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import support
from sqlalchemy import insert, text

from userdir.db import create_engine, create_sessionmaker
from userdir.menu.invariants import check_graph
from userdir.models import Item, Restaurant, item_modifier

ITEMS, LINKS, DEPTH = 10_000, 50_000, 8
# Requests go with aiohttp's Accept-Encoding (gzip, deflate), so large bodies come gzip-coded
# and the client decodes them, as a browser would; a row named *_identity asks for them as is.
UNCODED = {"Accept-Encoding": "identity"}
# p50 ceilings in ms, by (server run, request): the rows this benchmark is judged on.
GOALS = {
    ("no_cache", "flat"): 100.0,
    ("no_cache", "nested_depth3"): 5.0,  # refused: over MAX_NESTED_NODES
    ("cache", "nested_depth3"): 5.0,
    ("no_cache", "item_depth8_flat"): 30.0,
    ("no_cache", "nested_depth1"): 300.0,
}


def generate(seed: int = 5) -> tuple[list[int], list[tuple[int, int]]]:
    """Items in DEPTH + 1 layers; links only point to later layers, so the graph is acyclic,
    and a chain through every layer makes it exactly DEPTH deep."""
    rng = random.Random(seed)
    ids = list(range(1, ITEMS + 1))
    per_layer = ITEMS // (DEPTH + 1)
    layer = {i: min((i - 1) // per_layer, DEPTH) for i in ids}
    by_layer: dict[int, list[int]] = {}
    for i in ids:
        by_layer.setdefault(layer[i], []).append(i)
    links = {(by_layer[n][0], by_layer[n + 1][0]) for n in range(DEPTH)}
    parents = [i for i in ids if layer[i] < DEPTH]
    while len(links) < LINKS:
        parent = rng.choice(parents)
        below = rng.randint(layer[parent] + 1, DEPTH)
        links.add((parent, rng.choice(by_layer[below])))
    return ids, sorted(links)


async def load(url: str) -> None:
    ids, links = generate()
    check_graph(ids, links, max_depth=DEPTH)  # the generated menu is one the API accepts
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine).begin() as session:
            session.add(Restaurant(id=1, name="Generated"))
            await session.flush()
            await session.execute(
                insert(Item),
                [
                    {"id": i, "restaurant_id": 1, "name": f"item {i}", "price_cents": i % 900}
                    for i in ids
                ],
            )
            positions: dict[int, int] = {}
            rows = []
            for parent, child in links:
                positions[parent] = positions.get(parent, -1) + 1
                rows.append(
                    {"item_id": parent, "modifier_id": child, "position": positions[parent]}
                )
            await session.execute(insert(item_modifier), rows)
        # Planner statistics, as autovacuum gathers them within a minute of a bulk load: the
        # first requests would otherwise be planned blind.
        # Committed: statistics gathered in a transaction that rolls back are discarded.
        async with engine.begin() as conn:
            await conn.execute(text("ANALYZE item, item_modifier"))
    finally:
        await engine.dispose()


async def measure(
    session: aiohttp.ClientSession, urls: list[str], requests: int, headers: dict[str, str]
) -> list[dict[str, Any]]:
    """Time `requests` sequential GETs of each URL, taking turns (the order alternating), so
    servers compared are measured under the same machine load."""
    times: list[list[float]] = [[] for _ in urls]
    sizes, statuses = [0] * len(urls), [0] * len(urls)
    for turn in range(requests + 1):  # the first warms connections (and the cache, if on)
        order = range(len(urls)) if turn % 2 == 0 else reversed(range(len(urls)))
        for index in order:
            start = time.perf_counter()
            async with session.get(urls[index], headers=headers) as response:
                body = await response.read()
            times[index].append((time.perf_counter() - start) * 1000)
            sizes[index], statuses[index] = len(body), response.status
    results = []
    for index, taken in enumerate(times):
        taken = taken[1:]
        quantiles = statistics.quantiles(taken, n=100, method="inclusive")
        results.append(
            {
                "status": statuses[index],
                "bytes": sizes[index],
                "p50_ms": round(statistics.median(taken), 1),
                "p99_ms": round(quantiles[98], 1),
                "requests": requests,
            }
        )
    return results


async def run(requests: int, baseline: Path | None) -> dict[str, Any]:
    results: dict[str, Any] = {"items": ITEMS, "links": LINKS, "depth": DEPTH}
    async with support.database() as url:
        started = time.perf_counter()
        await load(url)
        results["load_s"] = round(time.perf_counter() - started, 1)
        paths = {
            "flat": "/restaurant/1/item?format=flat",
            "flat_identity": "/restaurant/1/item?format=flat",
            "nested_depth3": "/restaurant/1/item?depth=3",
            "nested_depth1": "/restaurant/1/item?depth=1",
            "item_depth3": "/restaurant/1/item/1?depth=3",
            "item_depth8_flat": "/restaurant/1/item/1?format=flat",
        }
        timeout = aiohttp.ClientTimeout(total=120)
        runs = [
            ("no_cache", {"CACHE_TTL": "0"}, paths, requests),
            ("cache", {"CACHE_TTL": "600"}, paths, requests),
            # What the refused nested depth=3 would cost with the budget raised past it.
            (
                "no_cache_budget_1m",
                {"CACHE_TTL": "0", "MAX_NESTED_NODES": "1000000"},
                {"nested_depth3": paths["nested_depth3"]},
                max(2, requests // 10),
            ),
        ]
        prefixes = [""] if baseline is None else ["", "baseline."]
        for label, env, targets, count in runs:
            with contextlib.ExitStack() as servers:
                bases = [servers.enter_context(support.serve(url, **env))]
                if baseline is not None:
                    code = {"PYTHONPATH": str(baseline / "src")}
                    bases.append(servers.enter_context(support.serve(url, **env, **code)))
                async with aiohttp.ClientSession(timeout=timeout) as session:
                    for name, path in targets.items():
                        headers = UNCODED if name.endswith("_identity") else {}
                        urls = [base + path for base in bases]
                        measured = await measure(session, urls, count, headers)
                        for prefix, result in zip(prefixes, measured, strict=True):
                            results[f"{prefix}{label}.{name}"] = result
                            line = f"{prefix}{label:9} {name:17} {orjson.dumps(result).decode()}"
                            print(line, flush=True)
    print("\ngoals (p50):")
    for (label, name), goal in GOALS.items():
        p50 = results[f"{label}.{name}"]["p50_ms"]
        verdict = "met" if p50 <= goal else "MISSED"
        before = results.get(f"baseline.{label}.{name}")
        was = "" if before is None else f"  (baseline {before['p50_ms']:.1f} ms)"
        print(f"  {label:9} {name:17} {p50:8.1f} ms  goal <= {goal:g} ms  {verdict}{was}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="a checkout of another revision (its src/ and alembic/): served beside this one, "
        "the two taking turns on every request",
    )
    args = parser.parse_args()
    results = asyncio.run(asyncio.wait_for(run(args.requests, args.baseline), timeout=1800))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
