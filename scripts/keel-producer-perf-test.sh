#!/bin/bash
# scripts/keel-producer-perf-test.sh: measure producer throughput and latency, like Kafka's kafka-producer-perf-test.sh.
# A thin wrapper over `keel-admin producer-perf`; --help lists the options. See keel-console-producer(1).
set -eu

KEEL_SCRIPT_NAME=keel-producer-perf-test.sh
# shellcheck source=scripts/keel-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/keel-common.sh"

keel_find_admin
exec "$KEEL_ADMIN" producer-perf "$@"
