#!/bin/sh
# Measure userdir against aiohttp's own ceiling with wrk, every row in one run; writes
# bench/results/<UTC time>.md (printed too) and .json. See bench/README.md.
# Usage: bench/run.sh [--quick] [--duration S] [--connections N] [--threads N] [--users N] [--profile]
set -eu
. "$(dirname -- "$0")/../bin/bootstrap.sh"
cd "$ROOT"
bin/ensure-packages.sh wrk
case " $* " in
    *" --profile "*)
        if [ ! -x "$VENV/bin/py-spy" ]; then
            echo "userdir: installing the bench extra (py-spy) into $VENV" >&2
            install_deps bench
        fi
        ;;
esac
export USERDIR_BENCH_LAUNCHER=bench/run.sh
exec "$VENV/bin/python" bench/run.py "$@"
