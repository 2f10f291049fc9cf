#!/bin/sh
# Huge counts from a hostile legacy server (PROTOCOL.md §2 "Sink"): a C
# record of size 2^63-1 followed by a few bytes (no hang, no
# preallocation, nothing under the final name), thousands of nested D
# records (stopped at the depth limit, bounded directories, no stack
# overflow), a thousand T records in a row.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-faults.sh"

HOSTILE=$FIXTURES/hostile-legacy-ssh.sh

test_expect_success_ours 'size 2^63-1: short data, nothing under the final name' '
	sentinel s1 && mkdir -p s1/target &&
	SCPTEST_MODE=size-max && export SCPTEST_MODE &&
	SCPTEST_TIMEOUT=30 expect_rc 1 run_scp -O -S "$HOSTILE" fake:big \
	    s1/target &&
	check_sentinel s1 &&
	test ! -e s1/target/big &&
	used=$(du -sk s1 | cut -f1) && test "$used" -lt 1000
'

test_expect_success '5000 nested D records: stopped at the depth limit' '
	sentinel d1 && mkdir -p d1/target &&
	SCPTEST_MODE=deep SCPTEST_COUNT=5000 &&
	export SCPTEST_MODE SCPTEST_COUNT &&
	SCPTEST_TIMEOUT=60 expect_fail run_scp -O -r -S "$HOSTILE" fake:d \
	    d1/target &&
	check_sentinel d1 &&
	depth=$(find d1/target -type d | awk -F/ "{ print NF }" | sort -n |
	    tail -n 1) &&
	echo "deepest: $depth components" &&
	test "$depth" -lt 300 &&
	! grep -q -i "sanitizer\|segmentation" err
'

test_expect_success '1000 T records in a row, then a file' '
	mkdir -p t1 &&
	SCPTEST_MODE=many-t SCPTEST_COUNT=1000 &&
	export SCPTEST_MODE SCPTEST_COUNT &&
	SCPTEST_TIMEOUT=60 run_scp -O -S "$HOSTILE" fake:t t1 &&
	test "$(cat t1/t)" = xxxxx
'

test_done
