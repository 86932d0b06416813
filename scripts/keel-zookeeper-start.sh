#!/bin/bash
# scripts/keel-zookeeper-start.sh: run Debian's ZooKeeper with a properties file, in the
# foreground or as a daemon, for development (like Kafka's zookeeper-server-start.sh).
# See keel-zookeeper-start(1).
set -eu

usage() {
	cat <<USAGE
usage: keel-zookeeper-start.sh [-daemon] CONFIG
       keel-zookeeper-start.sh --help

Run ZooKeeper (Debian's zookeeper package, main class QuorumPeerMain) with the
zookeeper.properties file CONFIG. In the foreground java replaces this script and logs to
the terminal. With -daemon it runs in the background with output in
\$LOG_DIR/zookeeper.out and its pid in <dataDir>/zookeeper_server.pid, and the script waits
until clientPort accepts connections (up to KEEL_ZK_START_WAIT seconds, default 60).

Environment: LOG_DIR (default: <tree>/logs or \${TMPDIR:-/tmp}/keel-logs-out),
JAVA_HOME, KEEL_ZK_HEAP_OPTS (default -Xmx512M), KEEL_ZK_JVM_OPTS, KEEL_ZK_CLASSPATH.
USAGE
}

KEEL_SCRIPT_NAME=keel-zookeeper-start.sh
# shellcheck source=scripts/keel-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/keel-common.sh"

daemon=
config=
while [ $# -gt 0 ]; do
	case $1 in
	-h | --help | -help)
		usage
		exit 0
		;;
	-daemon | --daemon)
		daemon=1
		;;
	-*)
		keel_die "unknown option '$1' (try --help)"
		;;
	*)
		[ -z "$config" ] || keel_die "only one CONFIG may be given (try --help)"
		config=$1
		;;
	esac
	shift
done
[ -n "$config" ] || keel_die "missing CONFIG (try --help)"
if [ ! -f "$config" ] || [ ! -r "$config" ]; then
	keel_die "cannot read config file '$config'"
fi
config=$(keel_abspath "$config")
datadir=$(keel_prop "$config" dataDir)
port=$(keel_prop "$config" clientPort)
[ -n "$datadir" ] || keel_die "$config sets no dataDir"
mkdir -p "$datadir" "$LOG_DIR" || keel_die "cannot create $datadir or $LOG_DIR"
keel_zk_command "$config"

if [ -z "$daemon" ]; then
	exec "${KEEL_ZK_CMD[@]}"
fi

pidfile=$datadir/zookeeper_server.pid
out=$LOG_DIR/zookeeper.out
if [ -f "$pidfile" ] && keel_alive "$(cat "$pidfile")"; then
	keel_die "ZooKeeper is already running as pid $(cat "$pidfile") ($pidfile)"
fi
if [ -n "$port" ] && keel_port_open "$(keel_prop "$config" clientPortAddress)" "$port"; then
	keel_die "port $port is already in use"
fi
nohup "${KEEL_ZK_CMD[@]}" >"$out" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$pidfile"

deadline=$((SECONDS + ${KEEL_ZK_START_WAIT:-60}))
while [ -n "$port" ]; do
	if ! keel_alive "$pid"; then
		wait "$pid" 2>/dev/null && rc=0 || rc=$?
		rm -f "$pidfile"
		keel_tail_out "$out"
		keel_die "ZooKeeper exited during start-up (status $rc); see $out"
	fi
	if keel_port_open "$(keel_prop "$config" clientPortAddress)" "$port"; then
		break
	fi
	if [ "$SECONDS" -ge "$deadline" ]; then
		keel_die "ZooKeeper (pid $pid) is not listening on port $port after \
${KEEL_ZK_START_WAIT:-60} s; see $out"
	fi
	sleep 0.2
done
echo "$KEEL_SCRIPT_NAME: started ZooKeeper (pid $pid) on port ${port:-?}; output in $out"
