#!/bin/bash
# scripts/keel-reassign-partitions.sh: move partition replicas between brokers, like Kafka's
# kafka-reassign-partitions.sh.
# A thin wrapper over `keel-admin reassign-partitions`; --help lists the options. See
# keel-reassign-partitions(1).
set -eu

KEEL_SCRIPT_NAME=keel-reassign-partitions.sh
# shellcheck source=scripts/keel-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/keel-common.sh"

keel_find_admin
exec "$KEEL_ADMIN" reassign-partitions "$@"
