# scripts/keel-common.sh: sourced by the keel-*.sh scripts: finds keeld, keel-admin, Java and
# ZooKeeper, and holds the shared helpers (errors, pid files, waiting for a port).
# shellcheck shell=bash disable=SC2034 # variables here are used by the sourcing scripts
#
# Binaries: when this file sits in a keel source tree (../configure.ac next to ../src) and
# the in-tree build left ./keeld and ./keel-admin at the top, those are used; KEEL_BUILDDIR
# names another build directory. Otherwise the installed ones: ../sbin/keeld and
# ../bin/keel-admin beside this script's directory, then PATH, then /usr/sbin and
# /usr/local/sbin.
#
# Directories (environment overrides):
#   LOG_DIR       daemon output (*.out): <top>/logs in a source tree, else ${TMPDIR:-/tmp}/keel-logs-out
#   KEEL_PID_DIR  keeld pid files keeld-<broker.id>.pid: default $LOG_DIR
# ZooKeeper's pid file is <dataDir>/zookeeper_server.pid, as Debian's zkServer.sh writes it.

KEEL_SCRIPT_NAME=${KEEL_SCRIPT_NAME:-$(basename "$0")}
KEEL_SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KEEL_TOP=
if [ -f "$KEEL_SCRIPT_DIR/../configure.ac" ] && [ -d "$KEEL_SCRIPT_DIR/../src" ]; then
	KEEL_TOP=$(cd "$KEEL_SCRIPT_DIR/.." && pwd)
fi
if [ -n "$KEEL_TOP" ]; then
	LOG_DIR=${LOG_DIR:-$KEEL_TOP/logs}
else
	LOG_DIR=${LOG_DIR:-${TMPDIR:-/tmp}/keel-logs-out}
fi
KEEL_PID_DIR=${KEEL_PID_DIR:-$LOG_DIR}

# ZooKeeper as Debian's zookeeper package installs it.
KEEL_ZK_HOME=${KEEL_ZK_HOME:-/usr/share/zookeeper}
KEEL_ZK_CONF_DIR=${KEEL_ZK_CONF_DIR:-/etc/zookeeper/conf}
KEEL_ZK_MAIN=org.apache.zookeeper.server.quorum.QuorumPeerMain

keel_die() {
	echo "$KEEL_SCRIPT_NAME: $*" >&2
	exit 1
}

keel_warn() {
	echo "$KEEL_SCRIPT_NAME: $*" >&2
}

# keel_find_bin NAME SUBDIR: print the path of keeld (SUBDIR sbin) or keel-admin (bin).
keel_find_bin() {
	local name=$1 sub=$2 dir
	for dir in ${KEEL_BUILDDIR:+"$KEEL_BUILDDIR"} ${KEEL_TOP:+"$KEEL_TOP"}; do
		if [ -x "$dir/$name" ] && [ -f "$dir/$name" ]; then
			echo "$dir/$name"
			return 0
		fi
	done
	if [ -n "$KEEL_TOP" ]; then
		keel_warn "no built $name in $KEEL_TOP (run ./configure && make); trying the installed one"
	fi
	for dir in "$KEEL_SCRIPT_DIR/../$sub" "$KEEL_SCRIPT_DIR"; do
		if [ -x "$dir/$name" ] && [ -f "$dir/$name" ]; then
			(cd "$dir" && echo "$(pwd)/$name")
			return 0
		fi
	done
	if command -v "$name" >/dev/null 2>&1; then
		command -v "$name"
		return 0
	fi
	for dir in /usr/local/sbin /usr/sbin /usr/local/bin /usr/bin; do
		if [ -x "$dir/$name" ]; then
			echo "$dir/$name"
			return 0
		fi
	done
	return 1
}

# Set KEEL_KEELD / KEEL_ADMIN or exit with a message.
keel_find_keeld() {
	KEEL_KEELD=$(keel_find_bin keeld sbin) ||
		keel_die "cannot find keeld: build it (./configure && make) or install keel"
}

keel_find_admin() {
	KEEL_ADMIN=$(keel_find_bin keel-admin bin) ||
		keel_die "cannot find keel-admin: build it (./configure && make) or install keel"
}

# Set KEEL_JAVA: $JAVA_HOME/bin/java, then java on PATH, then Debian's /usr/bin/java.
keel_find_java() {
	if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
		KEEL_JAVA=$JAVA_HOME/bin/java
	elif command -v java >/dev/null 2>&1; then
		KEEL_JAVA=$(command -v java)
	elif [ -x /usr/bin/java ]; then
		KEEL_JAVA=/usr/bin/java
	else
		keel_die "cannot find java: install a JRE (apt-get install default-jre-headless)"
	fi
}

# Set KEEL_ZK_CLASSPATH (unless given) from Debian's zkEnv.sh (its CLASSPATH), else the
# standard /etc/zookeeper/conf:/usr/share/java/zookeeper.jar.
keel_zk_classpath() {
	local cp=
	if [ -n "${KEEL_ZK_CLASSPATH:-}" ]; then
		return 0
	fi
	if [ ! -r /usr/share/java/zookeeper.jar ]; then
		keel_die "ZooKeeper is not installed (apt-get install zookeeper)"
	fi
	if [ -r "$KEEL_ZK_HOME/bin/zkEnv.sh" ]; then
		cp=$(CLASSPATH='' bash -c '. "$1" >/dev/null 2>&1; echo "${CLASSPATH:-}"' _ \
			"$KEEL_ZK_HOME/bin/zkEnv.sh")
	fi
	cp=${cp:-$KEEL_ZK_CONF_DIR:/usr/share/java/zookeeper.jar}
	# Debian's jar names no SLF4J binding: add log4j 1.2's (libslf4j-java, liblog4j1.2-java)
	# so ZooKeeper logs through $KEEL_ZK_CONF_DIR/log4j.properties instead of nowhere.
	if [ -r /usr/share/java/slf4j-log4j12.jar ] && [ -r /usr/share/java/log4j-1.2.jar ]; then
		cp=$cp:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar
	fi
	KEEL_ZK_CLASSPATH=$cp
}

# keel_zk_command CONFIG: set the array KEEL_ZK_CMD to run ZooKeeper in the foreground.
# KEEL_ZK_HEAP_OPTS (default -Xmx512M) and KEEL_ZK_JVM_OPTS add JVM options; log4j goes to
# the console (stdout), with zookeeper.log.dir = $LOG_DIR for appenders that want a file.
# The marker -Dkeel.launcher=keel-zookeeper-start.sh lets keel-zookeeper-stop.sh (without a
# CONFIG) stop only ZooKeepers started this way, never a system or foreign one.
keel_zk_command() {
	local conf=$1 heap jvm
	keel_find_java
	keel_zk_classpath
	heap=${KEEL_ZK_HEAP_OPTS:--Xmx512M}
	jvm=${KEEL_ZK_JVM_OPTS:--Dzookeeper.4lw.commands.whitelist=*}
	# shellcheck disable=SC2206 # option lists are split on blanks on purpose
	KEEL_ZK_CMD=("$KEEL_JAVA" $heap $jvm
		-Dkeel.launcher=keel-zookeeper-start.sh
		"-Dzookeeper.log.dir=$LOG_DIR" "-Dzookeeper.root.logger=INFO,CONSOLE"
		-cp "$KEEL_ZK_CLASSPATH" "$KEEL_ZK_MAIN" "$conf")
}

# keel_prop FILE KEY: print the last value of KEY in a properties file (simple lines only).
keel_prop() {
	local file=$1 key=$2
	sed -n "s/^[[:space:]]*${key//./\\.}[[:space:]]*[=:[:space:]][[:space:]]*//p" "$file" |
		tail -n 1 | sed 's/[[:space:]]*$//'
}

# keel_abspath PATH: print PATH made absolute (the file must exist).
keel_abspath() {
	(cd "$(dirname "$1")" && echo "$(pwd)/$(basename "$1")")
}

# keel_alive PID: the process exists and is not a zombie.
keel_alive() {
	local state
	[ -r "/proc/$1/stat" ] || return 1
	state=$(sed 's/^.*) \(.\).*$/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$state" ] && [ "$state" != Z ]
}

# keel_port_open HOST PORT: something accepts TCP connections there.
keel_port_open() {
	local host=${1:-127.0.0.1}
	case $host in 0.0.0.0 | "" | "::") host=127.0.0.1 ;; esac
	(exec 3<>"/dev/tcp/$host/$2") 2>/dev/null
}

# keel_wait_exit TIMEOUT PID...: wait until every PID is gone; print those still alive.
keel_wait_exit() {
	local timeout=$1 deadline pid left
	shift
	deadline=$((SECONDS + timeout))
	while :; do
		left=
		for pid in "$@"; do
			if keel_alive "$pid"; then
				left="$left $pid"
			fi
		done
		if [ -z "$left" ] || [ "$SECONDS" -ge "$deadline" ]; then
			echo "${left# }"
			return 0
		fi
		sleep 0.2
	done
}

# keel_tail_out FILE: show the end of a daemon's output on stderr.
keel_tail_out() {
	if [ -s "$1" ]; then
		echo "--- last lines of $1:" >&2
		tail -n 20 "$1" >&2
	fi
}
