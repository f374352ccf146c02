"""Where the server programs are, or why a test cannot have them."""

from __future__ import annotations

import shutil
import subprocess
from functools import cache
from pathlib import Path

# Daemons live in sbin, which a non-root PATH often lacks.
EXTRA_DIRS = ("/usr/sbin", "/sbin", "/usr/local/sbin")


class MissingBinary(FileNotFoundError):
    """A program the server needs is not installed; the message names the Debian package."""


def find(name: str, package: str) -> str:
    path = shutil.which(name) or shutil.which(name, path=":".join(EXTRA_DIRS))
    if path is None:
        raise MissingBinary(f"{name} not found (Debian package {package})")
    return path


@cache
def postgres_bindir() -> Path:
    """The directory of initdb, pg_ctl, pg_basebackup and postgres: pg_config's answer, else the
    newest /usr/lib/postgresql/*/bin (Debian keeps them off PATH)."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        result = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=False
        )
        if result.returncode == 0:
            candidates.append(Path(result.stdout.strip()))
    versions = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(versions, key=lambda p: _version(p.parent.name), reverse=True)
    for bindir in candidates:
        if all((bindir / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return bindir
    raise MissingBinary("initdb, pg_ctl and postgres not found (Debian package postgresql)")


def postgres_tool(name: str) -> str:
    path = postgres_bindir() / name
    if not path.is_file():
        raise MissingBinary(f"{path} not found (Debian package postgresql)")
    return str(path)


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())
