"""The tool configuration holds: ruff clean and formatted, mypy strict on src/ and tests/, the
pre-commit hooks run exactly these checks, and requirements.lock pins everything an install
pulls in."""

from __future__ import annotations

import shlex
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LINTED = ("src", "tests", "alembic", "bench")
# Each check as `python -m` runs it, keyed by the id of the pre-commit hook that runs it too.
CHECKS = {
    "ruff-check": ("ruff", "check", *LINTED),
    "ruff-format": ("ruff", "format", "--check", *LINTED),
    "mypy": ("mypy",),
}
# Pinned for bin/bootstrap.sh, which installs it beside the venv rather than into it.
BOOTSTRAP_PINS = {"uv"}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_ruff_finds_nothing() -> None:
    result = run(*CHECKS["ruff-check"])
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_changes_nothing() -> None:
    result = run(*CHECKS["ruff-format"])
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_finds_nothing() -> None:
    result = run(*CHECKS["mypy"])
    assert result.returncode == 0, result.stdout + result.stderr


def test_pre_commit_hooks_run_the_checks_above() -> None:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    assert {id_: shlex.split(hook["entry"]) for id_, hook in hooks.items()} == {
        id_: [f".venv/bin/{tool}", *args] for id_, (tool, *args) in CHECKS.items()
    }
    for hook in hooks.values():
        assert hook["language"] == "system", hook
        # The paths are in the entry: the whole tree is checked, as here, not the staged files.
        assert hook.get("pass_filenames") is False, hook


def closure(name: str, extras: frozenset[str]) -> set[str]:
    """Every distribution that installing name[extras] pulls in, read from installed metadata.
    One that is not installed (an extra bin/test.sh leaves out) counts without what it needs."""
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [(canonicalize_name(name), extras)]
    while todo:
        item = todo.pop()
        if item in seen:
            continue
        seen.add(item)
        dist, dist_extras = item
        try:
            requires = metadata.requires(dist) or []
        except metadata.PackageNotFoundError:
            continue
        for line in requires:
            req = Requirement(line)
            wanted = {"", *dist_extras}
            if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in wanted):
                todo.append((canonicalize_name(req.name), frozenset(req.extras)))
    return {dist for dist, _ in seen} - {"userdir"}


def test_lock_pins_every_install_exactly() -> None:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        name, _, version = line.partition("==")
        pins[canonicalize_name(name)] = version
    extras = frozenset(metadata.metadata("userdir").get_all("Provides-Extra") or ())
    needed = closure("userdir", extras)
    assert "test" in extras
    assert sorted(needed - pins.keys()) == [], "unpinned: resolved afresh on every install"
    assert sorted(pins.keys() - needed - BOOTSTRAP_PINS) == [], "pinned but needed by nothing"
    installed = {canonicalize_name(n): metadata.version(n) for n in needed if is_installed(n)}
    assert installed == {name: pins[name] for name in installed}


def is_installed(name: str) -> bool:
    try:
        metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return False
    return True
