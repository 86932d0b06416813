#!/bin/bash
# scripts/keel-console-producer.sh: send the lines of standard input to a topic, like Kafka's kafka-console-producer.sh.
# A thin wrapper over `keel-admin produce`; --help lists the options. See keel-console-producer(1).
set -eu

KEEL_SCRIPT_NAME=keel-console-producer.sh
# shellcheck source=scripts/keel-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/keel-common.sh"

keel_find_admin
exec "$KEEL_ADMIN" produce "$@"
