#!/bin/sh
# Set up what is missing, then run the whole test suite; arguments go to pytest.
# PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) are used when reachable, and
# required when CI=true.
set -eu
. "$(dirname -- "$0")/bootstrap.sh"
cd "$ROOT"
# The browser test drives Debian's Chromium; install it when missing and we may.
if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "userdir: /usr/bin/chromium missing: apt-get update && apt-get install -y chromium" >&2
        apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2 ||
            echo "userdir: could not install chromium; the browser test will say so" >&2
    else
        echo "userdir: /usr/bin/chromium missing and not root: the browser test will skip" \
            "(fail with CI=true); install the Debian package chromium" >&2
    fi
fi
exec "$VENV/bin/python" -m pytest "$@"
