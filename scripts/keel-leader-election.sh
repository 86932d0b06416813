#!/bin/bash
# scripts/keel-leader-election.sh: elect preferred (or unclean) partition leaders, like Kafka's
# kafka-leader-election.sh.
# A thin wrapper over `keel-admin leader-election`; --help lists the options. See
# keel-leader-election(1).
set -eu

KEEL_SCRIPT_NAME=keel-leader-election.sh
# shellcheck source=scripts/keel-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/keel-common.sh"

keel_find_admin
exec "$KEEL_ADMIN" leader-election "$@"
