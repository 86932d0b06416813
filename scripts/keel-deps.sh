# scripts/keel-deps.sh: sourced by keel-quickstart.sh and keel-test.sh: installs the Debian
# packages keel needs (as root, or through sudo) when any is missing.

KEEL_BUILD_PKGS="autoconf automake libtool pkg-config make gcc libzookeeper-mt-dev libssl-dev
libzstd-dev zlib1g-dev liblz4-dev libsnappy-dev libjansson-dev check librdkafka-dev libjemalloc-dev
zookeeper"
KEEL_TEST_PKGS="kcat python3-confluent-kafka python3-kafka python3-pytest python3-kazoo clang
libclang-rt-14-dev python3-lz4 python3-snappy python3-zstandard iproute2"

# keel_install_deps PROG PACKAGE...: install the packages that are not installed yet.
keel_install_deps() {
	prog=$1
	shift
	missing=
	for p in "$@"; do
		st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
		case "$st" in
		*" installed") ;;
		*) missing="$missing $p" ;;
		esac
	done
	[ -n "$missing" ] || return 0
	echo "$prog: installing Debian packages:$missing" >&2
	if [ "$(id -u)" -eq 0 ]; then
		sudo_cmd=
	elif command -v sudo >/dev/null 2>&1; then
		sudo_cmd="sudo -n"
	else
		echo "$prog: need root or sudo to install:$missing" >&2
		return 1
	fi
	# shellcheck disable=SC2086
	$sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
		$sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >&2 || {
		echo "$prog: installing$missing failed" >&2
		return 1
	}
}

# keel_build PROG TOP [CONFIGURE-ARGS...]: configure (once) and build in the source tree.
keel_build() {
	prog=$1
	top=$2
	shift 2
	cd "$top"
	if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt configure ]; then
		autoreconf -fi >/dev/null 2>&1 || { echo "$prog: autoreconf failed" >&2; autoreconf -fi; return 1; }
	fi
	want="$*"
	if [ ! -f Makefile ] || [ "$(cat .keel-configured 2>/dev/null)" != "$want" ]; then
		./configure -q "$@" || { echo "$prog: configure failed (see config.log)" >&2; return 1; }
		make -s clean >/dev/null # objects of another configuration (sanitizers) must not link in
		echo "$want" > .keel-configured
	fi
	make -s -j"$(nproc)" || { echo "$prog: build failed" >&2; return 1; }
}
