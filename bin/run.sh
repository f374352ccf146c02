#!/bin/sh
# Set up what is missing (virtualenv, dependencies, migrations), then serve on $PORT (5005).
# Usage: bin/run.sh [--reset-db] [--host HOST] [--port PORT]
set -eu
. "$(dirname -- "$0")/bootstrap.sh"
cd "$ROOT"
case " $* " in
    *" --reset-db "*) ;;  # serve --reset-db drops and migrates by itself
    *) "$VENV/bin/userdir" db upgrade ;;
esac
exec "$VENV/bin/userdir" serve "$@"
