#!/bin/sh
# Sourced by bin/run.sh and bin/test.sh: make .venv exist and match pyproject.toml and the lock.
# Idempotent: it reinstalls only when one of those files changed since the last install.
set -eu
ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
VENV="$ROOT/.venv"
LOCK="$ROOT/requirements.lock"

find_python() {
    for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    echo "userdir: Python 3.11 or newer is required (set PYTHON=/path/to/python3.11)" >&2
    return 1
}

if [ ! -x "$VENV/bin/python" ]; then
    PY=$(find_python)
    echo "userdir: creating $VENV with $PY" >&2
    "$PY" -m venv "$VENV"
fi

STAMP=$(cat "$ROOT/pyproject.toml" "$LOCK" | "$VENV/bin/python" -c \
    'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')
if [ "$(cat "$VENV/.installed" 2>/dev/null || true)" != "$STAMP" ]; then
    echo "userdir: installing dependencies into $VENV" >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        --constraint "$LOCK" --editable "$ROOT[test]"
    echo "$STAMP" > "$VENV/.installed"
fi
