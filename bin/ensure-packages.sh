#!/bin/sh
# Install the Debian packages named as arguments that are missing; a no-op when all are there.
# Usage: bin/ensure-packages.sh PACKAGE...   (e.g. nginx pgbouncer wrk chromium)
# Needs root and apt-get to install; otherwise it names what is missing and exits 1, so the
# caller can say which tests or benchmarks cannot run.
set -eu
missing=""
for package in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $package"
    fi
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "userdir: missing Debian packages:$missing (install them as root: apt-get install$missing)" >&2
    exit 1
fi
echo "userdir: installing Debian packages:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# Packages that ship a service (nginx, pgbouncer) must not start it: tests and benchmarks start
# their own instances on free ports. policy-rc.d answering 101 tells invoke-rc.d "not now".
policy=/usr/sbin/policy-rc.d
own_policy=""
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && own_policy=1
fi
status=0
apt-get update -qq >&2 &&
    # shellcheck disable=SC2086 # word splitting of the package list is intended
    apt-get install -y -qq --no-install-recommends $missing >&2 || status=$?
[ -n "$own_policy" ] && rm -f "$policy"
exit "$status"
