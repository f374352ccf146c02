#!/bin/sh
# Sourced by bin/run.sh and bin/test.sh: make .venv exist, then `install_deps runtime` or
# `install_deps test` makes it match pyproject.toml and the lock. Idempotent: a stamp per kind
# records what it installed from, so it installs only when one of those files changed; a test
# install holds the runtime one, so bin/run.sh after bin/test.sh installs nothing.
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

# Prints the path of the uv pinned in the lock, installing it first when missing; fails when it
# cannot. uv installs in seconds what pip takes half a minute for. It lives outside .venv, one
# copy per user, so that a fresh clone or a new .venv does not download it again.
find_uv() {
    pin=$(grep '^uv==' "$LOCK") || return 1
    cache=${XDG_CACHE_HOME:-${HOME:+$HOME/.cache}}
    [ -n "$cache" ] || return 1
    home="$cache/userdir/uv-${pin#uv==}"
    if [ ! -x "$home/bin/uv" ]; then
        py=$(find_python 2>/dev/null) || return 1
        mkdir -p "$(dirname -- "$home")" || return 1
        echo "userdir: installing $pin into $home" >&2
        # Into a private directory, then one rename that fails if another clone won the race:
        # nobody ever sees half an install.
        tmp="$home.$$"
        if ! PIP_ROOT_USER_ACTION=ignore "$py" -m pip install --quiet --disable-pip-version-check \
            --no-deps --target "$tmp" "$pin" >&2; then
            rm -rf "$tmp"
            return 1
        fi
        "$py" -c 'import os, sys; os.rename(sys.argv[1], sys.argv[2])' "$tmp" "$home" \
            2>/dev/null || rm -rf "$tmp"
        [ -x "$home/bin/uv" ] || return 1
    fi
    echo "$home/bin/uv"
}

if [ ! -x "$VENV/bin/python" ]; then
    PY=$(find_python)
    echo "userdir: creating $VENV with $PY" >&2
    # uv needs no pip inside the venv; the pip fallback below adds it when it runs.
    "$PY" -m venv --without-pip "$VENV"
fi

# install_deps runtime|test|bench
install_deps() {
    # Where PYTHONDONTWRITEBYTECODE is set (as in many container images) Python compiles every
    # module it imports at every start. The suite starts many processes, so a test install
    # compiles all of them once; a runtime one leaves that to the first start, which is sooner.
    case "$1" in
        runtime) spec="$ROOT" compile= ;;
        test) spec="$ROOT[test]" compile=--compile-bytecode ;;
        bench) spec="$ROOT[test,bench]" compile=--compile-bytecode ;;  # holds the test install
        *) echo "userdir: install_deps runtime|test|bench, not $1" >&2; return 2 ;;
    esac
    stamp=$(cat "$ROOT/pyproject.toml" "$LOCK" | "$VENV/bin/python" -c \
        'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')
    [ "$(cat "$VENV/.installed-$1" 2>/dev/null || true)" != "$stamp" ] || return 0
    echo "userdir: installing $1 dependencies into $VENV" >&2
    if uv=$(find_uv); then
        "$uv" pip install --quiet --python "$VENV/bin/python" $compile \
            --constraint "$LOCK" --editable "$spec"
    else
        echo "userdir: uv unavailable, installing with pip (slower)" >&2
        "$VENV/bin/python" -m pip --version >/dev/null 2>&1 ||
            "$VENV/bin/python" -m ensurepip --upgrade >/dev/null
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
            --constraint "$LOCK" --editable "$spec"
    fi
    echo "$stamp" > "$VENV/.installed-$1"
    case "$1" in  # a wider install holds the narrower ones
        bench) echo "$stamp" > "$VENV/.installed-test"; echo "$stamp" > "$VENV/.installed-runtime" ;;
        test) echo "$stamp" > "$VENV/.installed-runtime" ;;
    esac
}
