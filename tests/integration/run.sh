#!/bin/sh
# tests/integration/run.sh: the integration and fault suites (real ZooKeeper, real keeld, real
# clients) under Debian's python3 and pytest; called by `make check` after the unit tests.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
: "${KEEL_BUILDDIR:=$(cd "$here/../.." && pwd)}"
export KEEL_BUILDDIR
# shellcheck disable=SC2086
exec /usr/bin/python3 -m pytest -p no:cacheprovider -ra -v "$here" "$here/../faults" ${KEEL_PYTEST_ARGS:-} "$@"
