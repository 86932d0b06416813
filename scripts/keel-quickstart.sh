#!/usr/bin/env bash
# scripts/keel-quickstart.sh: install what keel needs, build it, and run a local cluster:
# ZooKeeper on 127.0.0.1:2181 and brokers 1-3 on 127.0.0.1:9092-9094, all under run/.
set -eu
prog=keel-quickstart.sh
top=$(cd "$(dirname "$0")/.." && pwd)
run=${KEEL_RUN_DIR:-$top/run}
zk_port=${KEEL_ZK_PORT:-2181}
base_port=${KEEL_BASE_PORT:-9092}

usage() {
	cat <<USAGE
usage: $prog [--stop] [--no-install] [--help]
Installs the Debian packages keel needs (as root or through sudo), builds keel in its source
tree, and starts ZooKeeper on 127.0.0.1:$zk_port and three brokers (ids 1-3) on
127.0.0.1:$base_port-$((base_port + 2)). Configs, data, logs and pid files go to $run.
  --stop        stop the brokers and ZooKeeper this script started
  --no-install  do not install missing packages
USAGE
}

stop=no install=yes
while [ $# -gt 0 ]; do
	case "$1" in
	-h | --help) usage; exit 0 ;;
	--stop) stop=yes ;;
	--no-install) install=no ;;
	*) echo "$prog: unknown option $1 (try --help)" >&2; exit 1 ;;
	esac
	shift
done

export LOG_DIR="$run/logs" KEEL_PID_DIR="$run/logs"
configs=("$run/server-1.properties" "$run/server-2.properties" "$run/server-3.properties")

if [ "$stop" = yes ]; then
	status=0
	[ -f "${configs[0]}" ] || { echo "$prog: nothing to stop (no $run)" >&2; exit 1; }
	"$top/scripts/keel-server-stop.sh" "${configs[@]}" || status=1
	"$top/scripts/keel-zookeeper-stop.sh" "$run/zookeeper.properties" || status=1
	[ $status -eq 0 ] && echo "$prog: stopped"
	exit $status
fi

. "$top/scripts/keel-deps.sh"
if [ "$install" = yes ]; then
	# shellcheck disable=SC2086
	keel_install_deps "$prog" $KEEL_BUILD_PKGS kcat
fi
keel_build "$prog" "$top"

mkdir -p "$run/logs"
cat >"$run/zookeeper.properties" <<ZK
dataDir=$run/zookeeper
clientPort=$zk_port
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=ruok,stat
ZK
"$top/scripts/keel-zookeeper-start.sh" -daemon "$run/zookeeper.properties"

for id in 1 2 3; do
	cfg=$run/server-$id.properties
	{
		cat "$top/config/server.properties"
		echo
		echo "# quickstart overrides"
		echo "broker.id=$id"
		echo "listeners=PLAINTEXT://127.0.0.1:$((base_port + id - 1))"
		echo "log.dirs=$run/broker-$id"
		echo "zookeeper.connect=127.0.0.1:$zk_port"
	} >"$cfg"
	"$top/scripts/keel-server-start.sh" -daemon "$cfg"
done

cat <<TOUR
$prog: ZooKeeper on 127.0.0.1:$zk_port, brokers 1-3 on 127.0.0.1:$base_port-$((base_port + 2)).
Try:
  kcat -b 127.0.0.1:$base_port -L
  scripts/keel-topics.sh --bootstrap-server 127.0.0.1:$base_port --create --topic t --partitions 6 --replication-factor 1
  printf 'k1:hello\nk2:world\n' | kcat -b 127.0.0.1:$base_port -P -t t -K:
  kcat -b 127.0.0.1:$base_port -C -t t -e -f '%k %s %h\n'
  scripts/keel-topics.sh --zookeeper 127.0.0.1:$zk_port --delete --topic t
Logs: $run/logs. Stop with: $prog --stop
TOUR
