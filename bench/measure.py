"""One row of bench/run.py: check the answers, warm up, run wrk, judge, maybe profile."""

from __future__ import annotations

import argparse
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import profiler
import users_bench
import wrk
from rows import evaluate, ratios, rows

HTTP_TIMEOUT = 30.0  # one checking request
WARMUP_SECONDS = 1  # of wrk at the row's concurrency, unmeasured, before each row
SINGLE_MIN_SECONDS = 5  # wrk -d of the one-connection row, even with --quick
SINGLE_ANSWERS = 3  # the one-connection row runs long enough for this many slow requests...
SINGLE_MAX_SECONDS = 60  # ...up to this long
RETRY_FACTOR, RETRY_MIN_SECONDS, RETRY_MAX_SECONDS = 5, 10, 60  # a row that got no answer
WARM_ATTEMPTS = 60  # requests to warm every worker's cache before giving up


def get(url: str) -> tuple[int, str | None]:
    """Status and X-Cache of one GET on a fresh connection."""
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as response:
            response.read()
            return response.status, response.headers.get("X-Cache")
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("X-Cache")


def check_answers(url: str, cache: str | None, processes: int) -> float:
    """200, and the cache state a row expects; returns the last request's seconds. Every worker
    holds its own in-process cache and the kernel picks which one accepts, so with several,
    warm until many HITs come in a row."""
    in_a_row = 1 if processes == 1 else 10 * processes
    hits = 0
    for _ in range(WARM_ATTEMPTS):
        started = time.perf_counter()
        status, state = get(url)
        seconds = time.perf_counter() - started
        if status != 200:
            raise RuntimeError(f"{url} answered {status}")
        if cache is None or (cache == "MISS" and state == "MISS"):
            return seconds
        if cache == "MISS":
            raise RuntimeError(f"X-Cache {state} with CACHE_TTL=0")
        hits = hits + 1 if state == "HIT" else 0
        if hits >= in_a_row:
            return seconds
    raise RuntimeError(f"no {in_a_row} X-Cache HITs in a row after {WARM_ATTEMPTS} requests")


class Bench:
    def __init__(self, args: argparse.Namespace, scratch: Path) -> None:
        users = args.users
        self.load = wrk.Load(args.threads, args.connections, args.duration)
        # One connection gets no answer at all in a short run when a request takes seconds; the
        # row also grows to fit a few such requests (wrk.stretched).
        self.single = wrk.Load(1, 1, max(args.duration, SINGLE_MIN_SECONDS))
        self.profile = args.profile
        self.deep = min(users_bench.DEEP_PAGE, users // users_bench.PAGE_SIZE)
        self.rows = {row.key: row for row in rows(users, self.deep)}
        self.results: dict[str, dict[str, Any]] = {}
        self.scratch = scratch

    def measure(self, key: str, url: str, cache: str | None, pid: int | None = None) -> None:
        row = self.rows[key]
        load = self.single if row.single_connection else self.load
        result: dict[str, Any] = {"url": url, "wrk": load.flags(), "processes": row.processes}
        try:
            took = check_answers(url, cache, row.processes)
            result["check_seconds"] = round(took, 4)
            if row.single_connection:
                load = wrk.stretched(load, took, SINGLE_ANSWERS, SINGLE_MAX_SECONDS)
            else:
                # Fills the connection pool and each connection's prepared statements, which
                # would otherwise weigh on a short row's first second.
                wrk.run(url, replace(load, seconds=WARMUP_SECONDS))
            result["figures"] = wrk.run(url, load)
            if not result["figures"]["requests"] and load.seconds < RETRY_MAX_SECONDS:
                # Many slow requests at once can all outlast a short row (wrk drops those
                # still running at its end): once more, longer, rather than no figure at all.
                seconds = max(RETRY_MIN_SECONDS, RETRY_FACTOR * load.seconds)
                load = replace(load, seconds=min(RETRY_MAX_SECONDS, seconds))
                result["figures"] = wrk.run(url, load)
            result["wrk"] = load.flags()
            problems = wrk.problems(result["figures"])
            if not result["figures"]["requests"]:
                problems[-1] += f" (one request before it took {took:.1f} s)"
            if cache == "HIT" and get(url)[1] != "HIT":
                problems.append("the cached entry was gone after the run")
            result["status"] = "failed" if problems else "ok"
            result["reason"] = "; ".join(problems)
        except Exception as error:  # the row fails, the run goes on
            result.update(status="failed", reason=str(error))
        self.results[key] = result
        self._say(key, result)
        if self.profile and row.profiled and pid is not None and result["status"] == "ok":
            result["profile"] = self._profile(key, url, pid, load)

    def _profile(self, key: str, url: str, pid: int, load: wrk.Load) -> dict[str, Any]:
        out = self.scratch / f"{key}.raw"
        try:
            with profiler.recording(pid, load.seconds, out):
                rps = wrk.run(url, load)["rps"]
            found = profiler.own_time(out.read_text())
            return {**found, "rate": profiler.RATE, "rps": rps}
        except Exception as error:
            return {"error": str(error)}

    def fail(self, keys: list[str], reason: str, status: str = "failed") -> None:
        for key in keys:
            if key not in self.results:
                self.results[key] = {"status": status, "reason": reason}
                self._say(key, self.results[key])

    def group(self, keys: list[str], body: Callable[[], None]) -> None:
        """Run `body`, which measures `keys`; if it breaks, its unmeasured rows fail with why."""
        try:
            body()
        except Exception as error:
            self.fail(keys, f"{type(error).__name__}: {error}")

    @staticmethod
    def _say(key: str, result: dict[str, Any]) -> None:
        if result["status"] != "ok":
            print(f"{key:28} {result['status']}: {result['reason']}", file=sys.stderr, flush=True)
            return
        fig = result["figures"]
        print(
            f"{key:28} {fig['rps']:10,.1f} req/s  p50 {fig['latency_ms']['p50']:8.2f} ms"
            f"  p99 {fig['latency_ms']['p99']:8.2f} ms",
            file=sys.stderr,
            flush=True,
        )

    def finish(self) -> list[dict[str, Any]]:
        ceilings = {n: self.results.get(f"ceiling-{n}", {}) for n in (1, 2)}
        for key, result in self.results.items():
            if found := ratios(self.rows[key], result, ceilings):
                result["ratios"] = found
        return evaluate(self.results)
