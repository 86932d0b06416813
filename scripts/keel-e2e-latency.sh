#!/bin/bash
# scripts/keel-e2e-latency.sh: measure produce-to-consume latency, like Kafka's EndToEndLatency tool.
# A thin wrapper over `keel-admin e2e-latency`; --help lists the options.
set -eu

KEEL_SCRIPT_NAME=keel-e2e-latency.sh
# shellcheck source=scripts/keel-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/keel-common.sh"

keel_find_admin
exec "$KEEL_ADMIN" e2e-latency "$@"
