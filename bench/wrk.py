"""wrk, driven by wrk_report.lua: its summary comes back as JSON, not as text to scrape."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).with_name("wrk_report.lua")
MARKER = "WRK_JSON "
GRACE = 30.0  # seconds past the run's duration before wrk is considered hung
REQUEST_TIMEOUT = 10  # seconds: a request slower than this counts as a timeout error


@dataclass(frozen=True, slots=True)
class Load:
    threads: int
    connections: int
    seconds: int
    timeout: int = REQUEST_TIMEOUT

    def flags(self) -> str:
        return f"-t{self.threads} -c{self.connections} -d{self.seconds}s"


def command(url: str, load: Load) -> list[str]:
    return [
        "wrk",
        f"-t{load.threads}",
        f"-c{load.connections}",
        f"-d{load.seconds}s",
        "--timeout",
        f"{load.timeout}s",
        "-s",
        str(SCRIPT),
        url,
    ]


def stretched(load: Load, request_seconds: float, answers: int, cap: int) -> Load:
    """`load`, made long enough for about `answers` requests of `request_seconds` each on one
    connection (wrk drops a request still running when its time is up), within `cap` seconds."""
    wanted = math.ceil(answers * request_seconds)
    return replace(
        load,
        seconds=min(cap, max(load.seconds, wanted)),
        timeout=min(cap, max(load.timeout, math.ceil(2 * request_seconds))),
    )


def parse(stdout: str) -> dict[str, Any]:
    """The figures of one run from wrk's stdout: counts, errors, latencies in ms, req/s."""
    lines = [line for line in stdout.splitlines() if line.startswith(MARKER)]
    if len(lines) != 1:
        raise RuntimeError(f"wrk printed no summary from {SCRIPT.name}:\n{stdout}")
    raw = json.loads(lines[0][len(MARKER) :])
    seconds = raw["duration_us"] / 1e6
    return {
        "requests": raw["requests"],
        "seconds": round(seconds, 3),
        "bytes": raw["bytes"],
        "rps": round(raw["requests"] / seconds, 1) if seconds else 0.0,
        "errors": raw["errors"],
        "latency_ms": {name: round(us / 1000, 3) for name, us in raw["latency_us"].items()},
    }


def problems(figures: dict[str, Any]) -> list[str]:
    """Why a run's figures cannot stand: non-2xx answers, socket errors, no requests at all."""
    found = []
    errors = figures["errors"]
    if errors["status"]:
        found.append(f"{errors['status']} non-2xx responses")
    sockets = {name: n for name, n in errors.items() if name != "status" and n}
    if sockets:
        found.append("socket errors " + ", ".join(f"{k} {v}" for k, v in sockets.items()))
    if not figures["requests"]:
        found.append(f"no request completed in {figures['seconds']:.0f} s")
    return found


def run(url: str, load: Load) -> dict[str, Any]:
    """Drive `url` with `load`; bounded by the load's duration plus GRACE."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is missing: bin/ensure-packages.sh wrk installs it")
    done = subprocess.run(
        command(url, load),
        capture_output=True,
        text=True,
        timeout=load.seconds + GRACE,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk exited with {done.returncode}: {done.stderr.strip()}")
    return parse(done.stdout)
