#!/bin/sh
# Set up what is missing (virtualenv, runtime dependencies, migrations), then serve on $PORT
# (5005). The test tools are not installed here: bin/test.sh adds them.
# Usage: bin/run.sh [--reset-db] [--host HOST] [--port PORT]
set -eu
. "$(dirname -- "$0")/bootstrap.sh"
install_deps runtime
cd "$ROOT"
case " $* " in
    *" --reset-db "*) ;;  # serve --reset-db drops and migrates by itself
    *) "$VENV/bin/userdir" db upgrade ;;
esac
exec "$VENV/bin/userdir" serve "$@"
