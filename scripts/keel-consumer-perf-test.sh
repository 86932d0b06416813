#!/bin/bash
# scripts/keel-consumer-perf-test.sh: measure consumer throughput, like Kafka's kafka-consumer-perf-test.sh.
# A thin wrapper over `keel-admin consumer-perf`; --help lists the options. See keel-console-consumer(1).
set -eu

KEEL_SCRIPT_NAME=keel-consumer-perf-test.sh
# shellcheck source=scripts/keel-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/keel-common.sh"

keel_find_admin
exec "$KEEL_ADMIN" consumer-perf "$@"
