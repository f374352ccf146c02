"""bin/bootstrap.sh: which install bin/run.sh and bin/test.sh ask for, and when they ask for none.

Each test runs the real script in a copy of the project files it reads. A fake uv, where the
script keeps the pinned one, records its calls instead of installing anything."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What bin/run.sh and bin/test.sh do before their own work.
PROBE = '. "$(dirname -- "$0")/bootstrap.sh"\ninstall_deps "$1"\n'


def executable(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


class Clone:
    def __init__(self, tmp_path: Path) -> None:
        self.root = tmp_path / "clone"
        self.venv = self.root / ".venv"
        self.lock = self.root / "requirements.lock"
        self.calls = tmp_path / "calls.log"
        self.cache = tmp_path / "cache"
        executable(self.root / "bin" / "probe.sh", PROBE)
        shutil.copy(ROOT / "bin" / "bootstrap.sh", self.root / "bin" / "bootstrap.sh")
        for name in ("pyproject.toml", "requirements.lock"):
            shutil.copy(ROOT / name, self.root / name)
        (uv_pin,) = [line for line in self.lock.read_text().splitlines() if line.startswith("uv==")]
        uv = self.cache / "userdir" / f"uv-{uv_pin.removeprefix('uv==')}" / "bin" / "uv"
        executable(uv, f'#!/bin/sh\necho "uv $*" >> "{self.calls}"\n')

    def install(self, kind: str) -> list[str]:
        """Runs install_deps KIND as the scripts do; returns the installer calls it made."""
        self.calls.write_text("")
        env = {**os.environ, "XDG_CACHE_HOME": str(self.cache), "PYTHON": sys.executable}
        result = subprocess.run(
            ["sh", str(self.root / "bin" / "probe.sh"), kind],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return self.calls.read_text().splitlines()

    def uv_install(self, extras: str = "") -> str:
        flag = " --compile-bytecode" if extras else ""
        return (
            f"uv pip install --quiet --python {self.venv}/bin/python{flag}"
            f" --constraint {self.lock} --editable {self.root}{extras}"
        )


def test_run_installs_the_runtime_only_into_a_new_venv_without_pip(tmp_path: Path) -> None:
    clone = Clone(tmp_path)
    assert clone.install("runtime") == [clone.uv_install()]
    assert (clone.venv / "bin" / "python").exists()
    assert not (clone.venv / "bin" / "pip").exists()
    assert clone.install("runtime") == []


def test_test_after_run_adds_the_extras_and_run_after_test_installs_nothing(
    tmp_path: Path,
) -> None:
    clone = Clone(tmp_path)
    clone.install("runtime")
    assert clone.install("test") == [clone.uv_install("[test]")]
    assert clone.install("test") == []
    assert clone.install("runtime") == []


def test_run_after_test_in_a_fresh_clone_installs_nothing(tmp_path: Path) -> None:
    clone = Clone(tmp_path)
    assert clone.install("test") == [clone.uv_install("[test]")]
    assert clone.install("runtime") == []


def test_a_changed_lock_or_pyproject_installs_again(tmp_path: Path) -> None:
    clone = Clone(tmp_path)
    clone.install("test")
    with clone.lock.open("a") as lock:
        lock.write("six==1.17.0\n")
    assert clone.install("runtime") == [clone.uv_install()]
    assert clone.install("test") == [clone.uv_install("[test]")]
    with (clone.root / "pyproject.toml").open("a") as pyproject:
        pyproject.write("\n# changed\n")
    assert clone.install("test") == [clone.uv_install("[test]")]
    assert clone.install("runtime") == []


def test_without_uv_pip_installs_the_same(tmp_path: Path) -> None:
    clone = Clone(tmp_path)
    clone.lock.write_text(
        "".join(line for line in clone.lock.read_text().splitlines(True) if line[:4] != "uv==")
    )
    # A venv whose python records `-m` calls (pip) and runs anything else (the stamp's hash).
    executable(
        clone.venv / "bin" / "python",
        f'#!/bin/sh\ncase "$1" in -m) echo "python $*" >> "{clone.calls}" ;;'
        f' *) exec "{sys.executable}" "$@" ;; esac\n',
    )
    pip = "python -m pip install --quiet --disable-pip-version-check"
    assert clone.install("runtime") == [
        "python -m pip --version",
        f"{pip} --upgrade pip",
        f"{pip} --constraint {clone.lock} --editable {clone.root}",
    ]
    assert clone.install("runtime") == []
    assert (
        clone.install("test")[-1]
        == f"{pip} --constraint {clone.lock} --editable {clone.root}[test]"
    )
