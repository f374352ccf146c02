"""What every private server shares: a private directory, the user it runs as, readiness
waits and stopping a child process for sure."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

from tests.servers.binaries import MissingBinary

# PostgreSQL and PgBouncer refuse to run as root, so root hands them (and their directories)
# to this user; anyone else runs them as themselves.
SERVICE_USER = "postgres"


class ServerError(RuntimeError):
    """A private server did not start, stop or answer in time; the message carries its log."""


class Closing:
    """A server that a with block closes: processes stopped, directory removed."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def run_as() -> dict[str, Any]:
    """subprocess keyword arguments that drop root to the service user (nothing otherwise)."""
    if os.geteuid() != 0:
        return {}
    uid, gid = service_ids()
    return {"user": uid, "group": gid, "extra_groups": []}


def service_ids() -> tuple[int, int]:
    try:
        entry = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        raise MissingBinary(f"no user {SERVICE_USER} (Debian package postgresql)") from None
    return entry.pw_uid, entry.pw_gid


def private_dir(prefix: str) -> Path:
    """A fresh directory under the system temp dir, owned by the user the servers run as
    (pytest's tmp_path is root's and closed to that user)."""
    path = Path(tempfile.mkdtemp(prefix=f"userdir-{prefix}-"))
    if os.geteuid() == 0:
        try:
            os.chown(path, *service_ids())
        except MissingBinary:
            path.rmdir()
            raise
    return path


def remove_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def run(args: list[str], *, cwd: Path, timeout: float = 60, as_service: bool = True) -> str:
    """Run a command to completion; its output, or ServerError with that output."""
    result = subprocess.run(
        args,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=service_env(),
        **(run_as() if as_service else {}),
    )
    if result.returncode != 0:
        raise ServerError(
            f"{' '.join(args)} exited {result.returncode}:\n{result.stdout}{result.stderr}"
        )
    return str(result.stdout)


def service_env() -> dict[str, str]:
    # Libraries read HOME and PG* variables; root's values must not leak into the service user.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["HOME"] = tempfile.gettempdir()
    env.setdefault("LC_ALL", "C.UTF-8")
    return env


def wait_until(
    ready: Callable[[], bool], *, timeout: float, what: str, log: Path | None = None
) -> None:
    """Poll a readiness probe (there is no event to wait on across processes) until it holds."""
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise ServerError(f"{what} not ready after {timeout} s{log_tail(log)}")
        time.sleep(0.01)


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for_port(
    process: subprocess.Popen[bytes], port: int, *, what: str, log: Path | None, timeout: float = 10
) -> None:
    """Wait until a child listens on the port; fail at once when it exits instead."""

    def ready() -> bool:
        if process.poll() is not None:
            raise ServerError(f"{what} exited with {process.returncode}{log_tail(log)}")
        return port_open(port)

    wait_until(ready, timeout=timeout, what=what, log=log)


def stop_process(
    process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 10
) -> None:
    """Signal a child and reap it; SIGKILL when it does not exit in time. Idempotent."""
    if process.poll() is not None:
        return
    try:
        process.send_signal(sig)
        if sig not in (signal.SIGKILL, signal.SIGCONT):
            # A stopped (SIGSTOPped) process acts on other signals only once continued.
            process.send_signal(signal.SIGCONT)
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


def log_tail(log: Path | None, lines: int = 30) -> str:
    if log is None or not log.exists():
        return ""
    text = log.read_text(errors="replace").splitlines()[-lines:]
    return f"; last lines of {log}:\n" + "\n".join(text)


def children(pid: int) -> list[int]:
    """The processes whose parent is pid, from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (which has released everything)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")
