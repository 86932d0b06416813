#!/bin/bash
# scripts/keel-consumer-groups.sh: list, describe and delete consumer groups and reset their
# offsets, like Kafka's kafka-consumer-groups.sh.
# A thin wrapper over `keel-admin consumer-groups`; --help lists the options. See
# keel-consumer-groups(1).
set -eu

KEEL_SCRIPT_NAME=keel-consumer-groups.sh
# shellcheck source=scripts/keel-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/keel-common.sh"

keel_find_admin
exec "$KEEL_ADMIN" consumer-groups "$@"
