#!/bin/sh
# Set up what is missing, then run the whole test suite; arguments go to pytest.
# PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) are used when reachable, and
# required when CI=true.
set -eu
. "$(dirname -- "$0")/bootstrap.sh"
cd "$ROOT"
exec "$VENV/bin/python" -m pytest "$@"
