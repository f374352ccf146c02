#!/bin/sh
# Set up what is missing (virtualenv, runtime and test dependencies), then run the whole test
# suite; arguments go to pytest.
# PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) are used when reachable, and
# required when CI=true; tests that stop or break a server start private ones instead.
set -eu
. "$(dirname -- "$0")/bootstrap.sh"
install_deps test
cd "$ROOT"
# Debian packages some tests drive: nginx and pgbouncer (private servers on free ports, see
# tests/servers) and chromium (the browser test). Their tests skip with the reason when these
# cannot be installed (fail with CI=true), so the suite still runs.
"$ROOT/bin/ensure-packages.sh" nginx pgbouncer chromium ||
    echo "userdir: some Debian packages are missing: the tests that need them will say so" >&2
exec "$VENV/bin/python" -m pytest "$@"
