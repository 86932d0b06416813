#!/usr/bin/env bash
# scripts/keel-test.sh: install what the build and the tests need, build keel, run every test:
# Check unit suites, the integration suite (real ZooKeeper, real brokers, real clients) and a
# short run of each fuzz target.
set -eu -o pipefail
prog=keel-test.sh
top=$(cd "$(dirname "$0")/.." && pwd)

usage() {
	cat <<USAGE
usage: $prog [--sanitizers] [--no-install] [--unit] [--fuzz-seconds N] [-- PYTEST-ARGS...]
Builds keel in its source tree with --enable-debug and runs 'make check' (unit tests, then
integration tests), then each fuzz target for N seconds (default 20; 0 skips).
  --sanitizers     build with AddressSanitizer and UBSan (a separate configure)
  --no-install     do not install missing Debian packages
  --unit           unit tests only
USAGE
}

sanitizers=no install=yes unit_only=no fuzz_seconds=20
while [ $# -gt 0 ]; do
	case "$1" in
	-h | --help) usage; exit 0 ;;
	--sanitizers) sanitizers=yes ;;
	--no-install) install=no ;;
	--unit) unit_only=yes ;;
	--fuzz-seconds) shift; fuzz_seconds=${1:?--fuzz-seconds needs a number} ;;
	--) shift; break ;;
	*) echo "$prog: unknown option $1" >&2; usage >&2; exit 1 ;;
	esac
	shift
done

. "$top/scripts/keel-deps.sh"
if [ "$install" = yes ]; then
	# shellcheck disable=SC2086
	keel_install_deps "$prog" $KEEL_BUILD_PKGS $KEEL_TEST_PKGS
fi

conf="--enable-debug"
[ "$sanitizers" = yes ] && conf="$conf --enable-sanitizers"
# shellcheck disable=SC2086
keel_build "$prog" "$top" $conf
cd "$top"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
if [ "$unit_only" = yes ]; then
	make -s check TESTS=tests/unit/check_keel || status=$?
	cat tests/unit/check_keel.log
	exit $status
fi
export KEEL_PYTEST_ARGS="$*"
make -s check || status=$?
for log in tests/unit/check_keel.log tests/integration/run.log; do
	[ -f "$log" ] && { echo "==== $log"; cat "$log"; }
done
[ $status -eq 0 ] || { echo "$prog: tests failed" >&2; exit $status; }

if [ "$fuzz_seconds" -gt 0 ]; then
	make -s fuzz || { echo "$prog: building the fuzz targets failed" >&2; exit 1; }
	for t in batch request; do
		echo "==== fuzz_$t for ${fuzz_seconds}s"
		out=$(mktemp -d)
		# a copy of the corpus: what the run discovers stays out of the tree
		cp -r "tests/fuzz/corpus/$t" "$out/corpus"
		if ! "tests/fuzz/fuzz_$t" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 \
			-print_final_stats=1 -artifact_prefix="$out/" "$out/corpus" >"$out/log" 2>&1; then
			cat "$out/log"
			echo "$prog: fuzz_$t found a crash (input kept in $out)" >&2
			exit 1
		fi
		grep -E '^stat::(number_of_executed_units|new_units_added|peak_rss_mb)' "$out/log"
		rm -rf "$out"
	done
fi
echo "$prog: all tests passed"
