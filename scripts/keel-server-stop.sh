#!/bin/bash
# scripts/keel-server-stop.sh: stop keel brokers with SIGTERM and wait for them to exit, like
# Kafka's kafka-server-stop.sh. See keel-server-start(1).
set -eu

usage() {
	cat <<USAGE
usage: keel-server-stop.sh [--timeout SECONDS] [CONFIG]...
       keel-server-stop.sh --help

Send SIGTERM (a clean shutdown) to every keeld this user runs, or, with CONFIG arguments,
only to those started with one of those config files, and wait until they exit (default
timeout 60 seconds, or KEEL_STOP_TIMEOUT). Removes their pid files from \$KEEL_PID_DIR.
Exits 1 if no keeld was running or one did not exit in time.
USAGE
}

KEEL_SCRIPT_NAME=keel-server-stop.sh
# shellcheck source=scripts/keel-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/keel-common.sh"

timeout=${KEEL_STOP_TIMEOUT:-60}
configs=()
while [ $# -gt 0 ]; do
	case $1 in
	-h | --help | -help)
		usage
		exit 0
		;;
	--timeout)
		[ $# -ge 2 ] || keel_die "--timeout needs a number of seconds"
		timeout=$2
		shift
		;;
	-*)
		keel_die "unknown option '$1' (try --help)"
		;;
	*)
		[ -f "$1" ] || keel_die "no such config file '$1'"
		configs+=("$(keel_abspath "$1")")
		;;
	esac
	shift
done
case $timeout in
'' | *[!0-9]*) keel_die "--timeout must be a whole number of seconds, got '$timeout'" ;;
esac

# Does process PID run keeld with one of the wanted configs (any, if none given)? The start
# script passes keeld an absolute CONFIG path, so compare the arguments with those.
wanted() {
	local pid=$1 arg c
	[ ${#configs[@]} -eq 0 ] && return 0
	while IFS= read -r -d '' arg; do
		for c in "${configs[@]}"; do
			[ "$arg" = "$c" ] && return 0
		done
	done <"/proc/$pid/cmdline"
	return 1
}

pids=()
for pid in $(pgrep -u "$(id -u)" -x 'keeld|lt-keeld' || true); do
	if keel_alive "$pid" && wanted "$pid"; then
		pids+=("$pid")
	fi
done
if [ ${#pids[@]} -eq 0 ]; then
	keel_die "no keeld to stop${configs:+ for ${configs[*]}}"
fi

kill -TERM "${pids[@]}" 2>/dev/null || true
left=$(keel_wait_exit "$timeout" "${pids[@]}")

# Remove the pid files of the brokers that are gone (and stale ones).
for pidfile in "$KEEL_PID_DIR"/keeld-*.pid; do
	[ -f "$pidfile" ] || continue
	if ! keel_alive "$(cat "$pidfile" 2>/dev/null || echo 0)"; then
		rm -f "$pidfile"
	fi
done
if [ -n "$left" ]; then
	keel_die "keeld did not exit within $timeout s after SIGTERM: pid $left"
fi
echo "$KEEL_SCRIPT_NAME: stopped keeld pid ${pids[*]}"
