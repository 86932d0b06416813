#!/bin/bash
# scripts/keel-zookeeper-stop.sh: stop the ZooKeeper started by keel-zookeeper-start.sh, found
# by its pid file (fallback: the QuorumPeerMain process). See keel-zookeeper-start(1).
set -eu

usage() {
	cat <<USAGE
usage: keel-zookeeper-stop.sh [--timeout SECONDS] [CONFIG]
       keel-zookeeper-stop.sh --help

With CONFIG, stop the ZooKeeper whose pid is in <dataDir>/zookeeper_server.pid, or else
the QuorumPeerMain process started with that config file. Without CONFIG, stop every
ZooKeeper of this user that keel-zookeeper-start.sh started (never a system one). Sends
SIGTERM and waits until it exits (default timeout 30 seconds, or KEEL_STOP_TIMEOUT).
Exits 1 if none was running or it did not exit in time.
USAGE
}

KEEL_SCRIPT_NAME=keel-zookeeper-stop.sh
# shellcheck source=scripts/keel-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/keel-common.sh"

timeout=${KEEL_STOP_TIMEOUT:-30}
config=
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
		[ -z "$config" ] || keel_die "only one CONFIG may be given (try --help)"
		[ -f "$1" ] || keel_die "no such config file '$1'"
		config=$(keel_abspath "$1")
		;;
	esac
	shift
done
case $timeout in
'' | *[!0-9]*) keel_die "--timeout must be a whole number of seconds, got '$timeout'" ;;
esac

pids=()
pidfile=
if [ -n "$config" ]; then
	datadir=$(keel_prop "$config" dataDir)
	pidfile=${datadir:+$datadir/zookeeper_server.pid}
	if [ -n "$pidfile" ] && [ -f "$pidfile" ] && keel_alive "$(cat "$pidfile")"; then
		pids=("$(cat "$pidfile")")
	fi
fi
if [ ${#pids[@]} -eq 0 ]; then
	pattern="-Dkeel.launcher=keel-zookeeper-start.sh .*$KEEL_ZK_MAIN"
	[ -z "$config" ] || pattern="$KEEL_ZK_MAIN $config"
	for pid in $(pgrep -u "$(id -u)" -f -- "$pattern" || true); do
		[ "$pid" != $$ ] && keel_alive "$pid" && pids+=("$pid")
	done
fi
if [ ${#pids[@]} -eq 0 ]; then
	keel_die "no ZooKeeper to stop${config:+ for $config}"
fi

kill -TERM "${pids[@]}" 2>/dev/null || true
left=$(keel_wait_exit "$timeout" "${pids[@]}")
if [ -n "$left" ]; then
	keel_die "ZooKeeper did not exit within $timeout s after SIGTERM: pid $left"
fi
if [ -n "$pidfile" ]; then
	rm -f "$pidfile"
fi
echo "$KEEL_SCRIPT_NAME: stopped ZooKeeper pid ${pids[*]}"
