#!/bin/bash
# scripts/keel-server-start.sh: start a keel broker (keeld), in the foreground or as a daemon,
# like Kafka's kafka-server-start.sh. See keel-server-start(1).
set -eu

usage() {
	cat <<USAGE
usage: keel-server-start.sh [-daemon] CONFIG [--override key=value]...
       keel-server-start.sh --help

Start keeld with the server.properties file CONFIG; each --override sets one key and wins
over the file. In the foreground keeld replaces this script. With -daemon it runs in the
background: output goes to \$LOG_DIR/keeld-<broker.id>.out and its pid to
\$KEEL_PID_DIR/keeld-<broker.id>.pid; the script waits until the first listener accepts
connections (up to KEEL_START_WAIT seconds, default 30) and fails if keeld exits.

Environment: LOG_DIR (default: <tree>/logs or \${TMPDIR:-/tmp}/keel-logs-out),
KEEL_PID_DIR (default: \$LOG_DIR), KEEL_BUILDDIR, KEEL_START_WAIT.
USAGE
}

KEEL_SCRIPT_NAME=keel-server-start.sh
# shellcheck source=scripts/keel-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/keel-common.sh"

daemon=
config=
overrides=()
while [ $# -gt 0 ]; do
	case $1 in
	-h | --help | -help)
		usage
		exit 0
		;;
	-daemon | --daemon)
		daemon=1
		;;
	--override)
		[ $# -ge 2 ] || keel_die "--override needs key=value"
		case $2 in
		?*=*) ;;
		*) keel_die "--override needs key=value, got '$2'" ;;
		esac
		overrides+=(--override "$2")
		shift
		;;
	--override=*)
		overrides+=(--override "${1#--override=}")
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
keel_find_keeld

if [ -z "$daemon" ]; then
	exec "$KEEL_KEELD" "$config" "${overrides[@]}"
fi

# The value of KEY: the last --override of it, else the config file's.
setting() {
	local key=$1 value i
	value=$(keel_prop "$config" "$key")
	for ((i = 1; i < ${#overrides[@]}; i += 2)); do
		case ${overrides[i]} in
		"$key="*) value=${overrides[i]#*=} ;;
		esac
	done
	echo "$value"
}

broker=$(setting broker.id)
case $broker in
'' | -1) name=keeld-$(basename "$config" .properties) ;;
*) name=keeld-$broker ;;
esac
mkdir -p "$LOG_DIR" "$KEEL_PID_DIR" || keel_die "cannot create $LOG_DIR or $KEEL_PID_DIR"
pidfile=$KEEL_PID_DIR/$name.pid
out=$LOG_DIR/$name.out
if [ -f "$pidfile" ] && keel_alive "$(cat "$pidfile")"; then
	keel_die "$name is already running as pid $(cat "$pidfile") ($pidfile)"
fi

nohup "$KEEL_KEELD" "$config" "${overrides[@]}" >"$out" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$pidfile"

# Wait for the first listener (host:port of listeners, default :9092), or keeld's death.
listener=$(setting listeners)
listener=${listener:-PLAINTEXT://:9092}
listener=${listener%%,*}
hostport=${listener#*://}
port=${hostport##*:}
host=${hostport%:*}
host=${host#[}
host=${host%]}
deadline=$((SECONDS + ${KEEL_START_WAIT:-30}))
while :; do
	if ! keel_alive "$pid"; then
		wait "$pid" 2>/dev/null && rc=0 || rc=$?
		rm -f "$pidfile"
		keel_tail_out "$out"
		keel_die "keeld exited during start-up (status $rc); see $out"
	fi
	if [ "$port" = 0 ] || keel_port_open "$host" "$port"; then
		break
	fi
	if [ "$SECONDS" -ge "$deadline" ]; then
		keel_warn "keeld (pid $pid) is running but not yet listening on ${host:-*}:$port; see $out"
		break
	fi
	sleep 0.2
done
echo "$KEEL_SCRIPT_NAME: started $name (pid $pid); output in $out"
