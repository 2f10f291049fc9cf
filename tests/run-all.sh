#!/bin/sh
# Builds scp and runs every test, as CI does: unit tests and integration
# tests on a normal build, then again on an ASan+UBSan build, then the
# fuzz targets for a short bounded time.  Ends with "N passed, N failed".
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
SCP_NEED_CLANG=1 sh scripts/deps.sh || exit 1

passed=0
failed=0
log=$(mktemp -d /tmp/scp-ci.XXXXXX)

# count_cmocka FILE: adds cmocka's "[  PASSED  ] N test(s)." and
# "[  FAILED  ] N test(s)," lines of a meson test log to the totals.
count_cmocka() {
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$1" |
	    awk '{s += $1} END {print s + 0}')
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$1" |
	    awk '{s += $1} END {print s + 0}')
	passed=$((passed + p))
	failed=$((failed + f))
}

# stage NAME CMD...: runs one stage; a stage that fails without having
# counted any case still counts as one failure.
stage() {
	name=$1
	shift
	echo "=== $name"
	if "$@"; then
		return 0
	fi
	echo "=== $name: FAILED"
	return 1
}

build() {
	dir=$1
	shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$@" >"$log/setup-$(basename "$dir")" 2>&1 ||
		    { cat "$log/setup-$(basename "$dir")"; return 1; }
	else
		meson setup --reconfigure "$dir" "$@" >/dev/null 2>&1
	fi
	ninja -C "$dir"
}

unit() {
	dir=$1
	meson test -C "$dir" --suite unit --print-errorlogs \
	    >"$log/unit-$(basename "$dir")" 2>&1
	rc=$?
	grep -E '^ *[0-9]+/[0-9]+ ' "$log/unit-$(basename "$dir")"
	count_cmocka "$dir/meson-logs/testlog.txt"
	if [ $rc -ne 0 ]; then
		cat "$log/unit-$(basename "$dir")" | tail -50
	fi
	return $rc
}

integration() {
	bin=$1
	sh tests/integration/run.sh "$bin" >"$log/integ" 2>&1
	rc=$?
	cat "$log/integ"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log/integ" | tail -1)
	if [ -n "$line" ]; then
		passed=$((passed + ${line%% passed*}))
		f=${line#*passed, }
		failed=$((failed + ${f%% failed*}))
	elif [ $rc -ne 0 ]; then
		failed=$((failed + 1))
	fi
	return $rc
}

fuzz() {
	if ! command -v clang >/dev/null 2>&1; then
		echo "fuzz: clang missing"
		return 1
	fi
	CC=clang build build-fuzz -Dfuzz=true -Db_lundef=false || return 1
	sh tests/fuzz/run.sh build-fuzz "${SCP_FUZZ_SECONDS:-20}"
}

overall=0
stage "build" build build || { failed=$((failed + 1)); overall=1; }
stage "unit" unit build || overall=1
stage "integration" integration build/scp || overall=1
stage "build (asan+ubsan)" build build-asan \
    -Db_sanitize=address,undefined -Db_lundef=false ||
    { failed=$((failed + 1)); overall=1; }
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
stage "unit (asan+ubsan)" unit build-asan || overall=1
ASAN_OPTIONS="abort_on_error=1:detect_leaks=0" \
    stage "integration (asan+ubsan)" integration build-asan/scp || overall=1
if [ -f tests/fuzz/run.sh ]; then
	if stage "fuzz" fuzz; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		overall=1
	fi
fi

rm -rf "$log"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ $overall -eq 0 ]
