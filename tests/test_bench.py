"""bench/run.py's parts: wrk's JSON summary, py-spy's own time, targets, the table, the ceiling."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.services import unavailable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import groups  # noqa: E402
import measure  # noqa: E402
import profiler  # noqa: E402
import report  # noqa: E402
import rows  # noqa: E402
import wrk  # noqa: E402

WRK_STDOUT = """Running 2s test @ http://127.0.0.1:1/
  2 threads and 64 connections
Requests/sec:   5000.00
WRK_JSON {"duration_us":2000000,"requests":10000,"bytes":1700000,\
"errors":{"connect":0,"read":0,"write":0,"status":0,"timeout":0},\
"latency_us":{"min":500,"mean":6000.5,"stdev":800.0,"max":90000,\
"p50":5500,"p90":8000,"p99":12345,"p99.9":40000}}
"""


def figures(rps: float, p50: float = 1.0, p99: float = 10.0) -> dict[str, Any]:
    return {"rps": rps, "latency_ms": {"p50": p50, "p99": p99}}


def ok(
    rps: float, p50: float = 1.0, p99: float = 10.0, flags: str = "-t2 -c64 -d10s"
) -> dict[str, Any]:
    return {"status": "ok", "reason": "", "wrk": flags, "figures": figures(rps, p50, p99)}


def test_wrk_figures_come_from_the_lua_json_line() -> None:
    parsed = wrk.parse(WRK_STDOUT)
    assert parsed["rps"] == 5000.0
    assert parsed["latency_ms"]["p50"] == 5.5
    assert parsed["latency_ms"]["p99"] == 12.345
    assert wrk.problems(parsed) == []


def test_wrk_without_the_json_line_is_an_error_not_a_zero() -> None:
    with pytest.raises(RuntimeError, match="no summary"):
        wrk.parse("Requests/sec:   5000.00\n")


def test_non_2xx_answers_and_socket_errors_fail_a_row() -> None:
    parsed = wrk.parse(
        WRK_STDOUT.replace('"status":0', '"status":7').replace('"timeout":0', '"timeout":2')
    )
    assert wrk.problems(parsed) == ["7 non-2xx responses", "socket errors timeout 2"]


def test_a_slow_one_connection_row_runs_long_enough_for_a_few_answers() -> None:
    short = wrk.Load(threads=1, connections=1, seconds=10)
    assert wrk.stretched(short, 0.02, answers=3, cap=60) == short
    slow = wrk.stretched(short, 12.3, answers=3, cap=60)
    assert (slow.seconds, slow.timeout) == (37, 25)  # three 12.3 s answers; none times out
    assert wrk.stretched(short, 45.0, answers=3, cap=60).seconds == 60
    assert "--timeout 25s" in " ".join(wrk.command("http://127.0.0.1:1/", slow))


def test_own_time_counts_only_the_innermost_frame() -> None:
    raw = (
        "run (asyncio/runners.py:86);handler (app.py:10);dumps (json.py:1) 6\n"
        "run (asyncio/runners.py:86);handler (app.py:10) 3\n"
        "run (asyncio/runners.py:86);other (app.py:20);dumps (json.py:1) 1\n"
    )
    found = profiler.own_time(raw, top=2)
    assert found["samples"] == 10
    assert found["top"] == [
        {"function": "dumps (json.py:1)", "samples": 7, "share": 0.7},
        {"function": "handler (app.py:10)", "samples": 3, "share": 0.3},
    ]


def test_ratios_compare_with_the_ceiling_of_the_same_process_count() -> None:
    table = {row.key: row for row in rows.rows(1000, 40)}
    ceilings = {1: ok(1000, p99=10), 2: ok(1600, p99=20)}
    one = rows.ratios(table["pg-users-cached"], ok(800, p99=15), ceilings)
    two = rows.ratios(table["pg-users-cached-workers-2"], ok(800, p99=15), ceilings)
    assert one == {"rps_ratio": 0.8, "p99_ratio": 1.5}
    assert two == {"rps_ratio": 0.5, "p99_ratio": 0.75}
    assert rows.ratios(table["pg-icontains"], ok(50), ceilings) == {}  # -c1: no ceiling like it


def test_targets_are_met_missed_or_not_measured() -> None:
    results = {
        "pg-users-cached": {**ok(800), "ratios": {"rps_ratio": 0.8, "p99_ratio": 2.5}},
        "pg-users-cached-workers-2": ok(1200),
        "pg-icontains": ok(50, p50=25.0),
        "pg-users-uncached": {"status": "failed", "reason": "3 non-2xx responses"},
    }
    verdicts = {(t["row"], t["figure"]): (t["value"], t["met"]) for t in rows.evaluate(results)}
    assert verdicts["pg-users-cached", "rps_ratio"] == (0.8, True)
    assert verdicts["pg-users-cached", "p99_ratio"] == (2.5, False)
    assert verdicts["pg-users-cached-workers-2", "rps_vs:pg-users-cached"] == (1.5, False)
    assert verdicts["pg-icontains", "p50_ms"] == (25.0, False)
    assert verdicts["pg-users-uncached", "rps_ratio"] == (None, None)
    assert verdicts["sqlite-users-cached", "rps_ratio"] == (None, None)


def test_the_table_marks_failed_unsupported_and_missing_rows() -> None:
    table_rows = rows.rows(1000, 40)
    results = {
        "ceiling-1": ok(1000),
        "pg-users-cached": {**ok(800), "ratios": {"rps_ratio": 0.8, "p99_ratio": 1.0}},
        "pg-users-uncached": {"status": "failed", "reason": "3 non-2xx responses"},
        "pg-users-cached-workers-2": {"status": "n/a", "reason": "not supported by this build"},
        "pg-org-uncached": ok(5, flags="-t2 -c64 -d50s"),  # run again, longer
    }
    text = report.table(table_rows, results, rows.evaluate(results), "-t2 -c64 -d10s")
    lines = {line.split(" | ")[0].lstrip("| "): line for line in text.splitlines()}
    assert (
        "| 800.0 | 1.00 ms | 10.00 ms | 0.80× | 1.00× |"
        in lines["`/users` page 1, cached, PostgreSQL, 1,000 users"]
    )
    assert "met (0.80); met (1.00)" in lines["`/users` page 1, cached, PostgreSQL, 1,000 users"]
    assert "**failed**: 3 non-2xx" in lines["`/users` page 1, uncached, PostgreSQL, 1,000 users"]
    assert (
        "n/a: not supported by this build"
        in lines["`/users` page 1, cached, `--workers 2`, PostgreSQL, 1,000 users"]
    )
    assert lines["`/restaurant/1/item`, cached, SQLite sample data"].endswith("| not run |")
    organizations = "`/users?type=Organization&order_by=username&pagination=100`"
    assert (
        f"| {organizations}, uncached, PostgreSQL, 1,000 users (`-t2 -c64 -d50s`) | 5.0 |" in text
    )
    assert len(text.splitlines()) == 2 + len(table_rows)


def answers(monkeypatch: pytest.MonkeyPatch, *replies: tuple[int, str | None]) -> list[str]:
    """Make measure.get answer `replies` in turn; returns the URLs it was asked for."""
    asked: list[str] = []
    queue = list(replies)

    def get(url: str) -> tuple[int, str | None]:
        asked.append(url)
        return queue.pop(0)

    monkeypatch.setattr(measure, "get", get)
    return asked


def test_a_cached_row_needs_a_hit_and_an_uncached_one_a_miss(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = answers(monkeypatch, (200, "MISS"), (200, "HIT"))
    measure.check_answers("u", "HIT", processes=1)
    assert len(asked) == 2
    answers(monkeypatch, (200, "HIT"))
    with pytest.raises(RuntimeError, match="X-Cache HIT with CACHE_TTL=0"):
        measure.check_answers("u", "MISS", processes=1)
    answers(monkeypatch, (503, None))
    with pytest.raises(RuntimeError, match="answered 503"):
        measure.check_answers("u", None, processes=1)


def test_several_workers_are_warm_only_after_many_hits_in_a_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Each worker caches on its own: a MISS from the second one restarts the count.
    asked = answers(monkeypatch, (200, "MISS"), (200, "HIT"), (200, "MISS"), *[(200, "HIT")] * 20)
    measure.check_answers("u", "HIT", processes=2)
    assert len(asked) == 23
    answers(monkeypatch, *[(200, "HIT"), (200, "MISS")] * measure.WARM_ATTEMPTS)
    with pytest.raises(RuntimeError, match="no 20 X-Cache HITs in a row"):
        measure.check_answers("u", "HIT", processes=2)


def test_a_row_that_got_no_answer_runs_once_more_for_longer(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    args = argparse.Namespace(threads=2, connections=64, duration=2, users=1000, profile=False)
    bench = measure.Bench(args, tmp_path)
    answers(monkeypatch, (200, "MISS"))
    runs: list[wrk.Load] = []

    def run(url: str, load: wrk.Load) -> dict[str, Any]:
        runs.append(load)
        done = 0 if len(runs) < 3 else 40  # the warm-up and the first try see no answer
        return wrk.parse(WRK_STDOUT.replace('"requests":10000', f'"requests":{done}'))

    monkeypatch.setattr(wrk, "run", run)
    bench.measure("pg-org-uncached", "http://127.0.0.1:1/users", "MISS")
    assert [load.seconds for load in runs] == [1, 2, 10]  # warm-up, the row, once more
    result = bench.results["pg-org-uncached"]
    assert result["status"] == "ok" and result["wrk"] == "-t2 -c64 -d10s"


def process_children(pid: int) -> list[int]:
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False
    ).stdout
    return [int(n) for n in out.split()]


def ensure_wrk() -> None:
    if shutil.which("wrk") is None:
        subprocess.run([ROOT / "bin" / "ensure-packages.sh", "wrk"], check=False, timeout=300)
    if shutil.which("wrk") is None:
        unavailable("wrk", "the Debian package wrk is not installed")


@pytest.mark.slow
def test_the_ceiling_serves_one_socket_from_two_processes_and_stops_them_all() -> None:
    ensure_wrk()
    with groups.ceiling(2) as (url, process):
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.read() == b'{"ok": true}'
        parent = process.pid
        children = process_children(parent)
        assert len(children) == 2
        served = wrk.run(url, wrk.Load(threads=1, connections=4, seconds=1))
        assert served["requests"] > 0 and wrk.problems(served) == []
        missing = wrk.run(url + "missing", wrk.Load(threads=1, connections=1, seconds=1))
        assert "non-2xx" in " ".join(wrk.problems(missing))
    assert not Path(f"/proc/{parent}").exists()
    assert not any(Path(f"/proc/{child}").exists() for child in children)
