#!/bin/bash
# scripts/keel-topics.sh: create, delete, list and describe topics, like Kafka's kafka-topics.sh.
# A thin wrapper over `keel-admin topics`; --help lists the options. See keel-topics(1).
set -eu

KEEL_SCRIPT_NAME=keel-topics.sh
# shellcheck source=scripts/keel-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/keel-common.sh"

keel_find_admin
exec "$KEEL_ADMIN" topics "$@"
