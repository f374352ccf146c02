"""What bench/run.py measures: its rows, in table order, and the targets some of them carry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Row:
    key: str
    label: str
    processes: int = 1
    single_connection: bool = False  # wrk -t1 -c1: latency of one request at a time
    profiled: bool = False  # --profile samples the server during this row


@dataclass(frozen=True, slots=True)
class Target:
    """`row`'s `figure` compared with `limit`: at least it when `at_least`, else at most."""

    row: str
    text: str
    figure: str  # "rps_ratio", "p99_ratio", "p50_ms", or "rps_vs:<row key>"
    limit: float
    at_least: bool


def rows(users: int, deep_page: int) -> list[Row]:
    ceiling = 'ceiling: aiohttp `{"ok": true}`'
    sqlite = "SQLite sample data"
    pg = f"PostgreSQL, {users:,} users"
    organizations = "`/users?type=Organization&order_by=username&pagination=100`"
    return [
        Row("ceiling-1", f"{ceiling}, 1 process"),
        Row("ceiling-2", f"{ceiling}, 2 processes, one socket", processes=2),
        Row("sqlite-users-cached", f"`/users` page 1, cached, {sqlite}"),
        Row("sqlite-users-uncached", f"`/users` page 1, uncached, {sqlite}"),
        Row("pg-users-cached", f"`/users` page 1, cached, {pg}", profiled=True),
        Row("pg-users-uncached", f"`/users` page 1, uncached, {pg}", profiled=True),
        Row("pg-org-cached", f"{organizations}, cached, {pg}"),
        Row("pg-org-uncached", f"{organizations}, uncached, {pg}"),
        Row("pg-cursor-deep", f"`/users` page {deep_page:,} by cursor, uncached, {pg}"),
        Row("sqlite-menu-cached", f"`/restaurant/1/item`, cached, {sqlite}"),
        Row("sqlite-menu-uncached", f"`/restaurant/1/item`, uncached, {sqlite}"),
        Row(
            "pg-users-cached-workers-2",
            f"`/users` page 1, cached, `--workers 2`, {pg}",
            processes=2,
        ),
        Row(
            "pg-icontains",
            f"`/users?username__icontains=abc`, uncached, one connection, {pg}",
            single_connection=True,
        ),
    ]


TARGETS = [
    Target("sqlite-users-cached", "req/s ≥ 0.75× ceiling", "rps_ratio", 0.75, at_least=True),
    Target("sqlite-users-cached", "p99 ≤ 2× ceiling", "p99_ratio", 2.0, at_least=False),
    Target("pg-users-cached", "req/s ≥ 0.75× ceiling", "rps_ratio", 0.75, at_least=True),
    Target("pg-users-cached", "p99 ≤ 2× ceiling", "p99_ratio", 2.0, at_least=False),
    Target("pg-users-uncached", "req/s ≥ 0.12× ceiling", "rps_ratio", 0.12, at_least=True),
    Target(
        "pg-users-cached-workers-2",
        "req/s ≥ 1.6× one worker",
        "rps_vs:pg-users-cached",
        1.6,
        at_least=True,
    ),
    Target("pg-icontains", "p50 ≤ 20 ms", "p50_ms", 20.0, at_least=False),
]


def figure(results: dict[str, dict[str, Any]], key: str, name: str) -> float | None:
    """One figure of a measured row, None when the row (or what it is compared with) has none."""
    row = results.get(key, {})
    if row.get("status") != "ok":
        return None
    if name.startswith("rps_vs:"):
        other = results.get(name.split(":", 1)[1], {})
        if other.get("status") != "ok" or not other["figures"]["rps"]:
            return None
        return float(row["figures"]["rps"] / other["figures"]["rps"])
    if name == "p50_ms":
        return float(row["figures"]["latency_ms"]["p50"])
    value = row.get("ratios", {}).get(name)
    return None if value is None else float(value)


def evaluate(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Every target with its measured value and whether it is met (None: not measured)."""
    out = []
    for target in TARGETS:
        value = figure(results, target.row, target.figure)
        met = None
        if value is not None:
            met = value >= target.limit if target.at_least else value <= target.limit
        out.append(
            {
                "row": target.row,
                "target": target.text,
                "figure": target.figure,
                "limit": target.limit,
                "value": None if value is None else round(value, 3),
                "met": met,
            }
        )
    return out


def ratios(
    row: Row, result: dict[str, Any], ceilings: dict[int, dict[str, Any]]
) -> dict[str, float]:
    """req/s and p99 as multiples of the ceiling with the same number of processes."""
    ceiling = ceilings.get(row.processes)
    if (
        row.key.startswith("ceiling")
        or row.single_connection
        or result.get("status") != "ok"
        or ceiling is None
        or ceiling.get("status") != "ok"
    ):
        return {}
    mine, base = result["figures"], ceiling["figures"]
    return {
        "rps_ratio": round(mine["rps"] / base["rps"], 3),
        "p99_ratio": round(mine["latency_ms"]["p99"] / base["latency_ms"]["p99"], 3),
    }
