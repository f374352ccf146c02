"""py-spy sampling of a server process while wrk drives it: the functions with the most own time.

py-spy pauses the process for each sample (its default, blocking mode): slower, but every stack
is consistent, which the non-blocking mode does not promise.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

RATE = 100  # samples a second
GRACE = 30.0  # seconds past the recording's duration before py-spy is considered hung


def py_spy() -> str:
    beside = Path(sys.executable).with_name("py-spy")  # the bench extra installs it in .venv
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise RuntimeError("py-spy is missing: pip install -e '.[bench]' (bench/run.sh does)")
    return found


@contextmanager
def recording(pid: int, seconds: int, out: Path) -> Iterator[None]:
    """Sample `pid` for `seconds` into `out` (py-spy's raw, collapsed-stack format) while the
    block runs; the block should last about as long."""
    process = subprocess.Popen(
        [
            py_spy(),
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(seconds),
            "--rate",
            str(RATE),
            "--function",  # one entry a function, not one a line
            "--format",
            "raw",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield
        _, err = process.communicate(timeout=seconds + GRACE)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if process.returncode != 0 or not out.exists():
        raise RuntimeError(f"py-spy failed ({process.returncode}): {err.strip()}")


def own_time(raw: str, top: int = 15) -> dict[str, Any]:
    """The `top` functions by own time (samples where the function is the innermost frame)
    from py-spy's raw output: lines of `outer;...;inner COUNT`."""
    own: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            own[stack.rsplit(";", 1)[-1]] += int(count)
    total = sum(own.values())
    return {
        "samples": total,
        "top": [
            {"function": name, "samples": n, "share": round(n / total, 4)}
            for name, n in own.most_common(top)
        ],
    }
