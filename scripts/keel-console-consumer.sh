#!/bin/bash
# scripts/keel-console-consumer.sh: print the records of a topic, like Kafka's kafka-console-consumer.sh.
# A thin wrapper over `keel-admin consume`; --help lists the options. See keel-console-consumer(1).
set -eu

KEEL_SCRIPT_NAME=keel-console-consumer.sh
# shellcheck source=scripts/keel-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/keel-common.sh"

keel_find_admin
exec "$KEEL_ADMIN" consume "$@"
