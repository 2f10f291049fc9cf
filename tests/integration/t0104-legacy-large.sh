#!/bin/sh
# A 200 MB file both ways over the legacy protocol (sizes beyond any
# buffer, PROTOCOL.md §2 "exactly size bytes").
. "$(dirname "$0")/lib.sh"

SCPTEST_TIMEOUT=600

test_expect_success 'setup 200 MB file' '
	mkfile big 209715200 &&
	test "$(stat -c %s big)" = 209715200
'

test_expect_success 'upload 200 MB' '
	run_scp -O -q big ours:$TRASH/big.up &&
	cmp big big.up
'

test_expect_success 'download 200 MB' '
	run_scp -O -q ours:$TRASH/big big.down &&
	cmp big big.down
'

test_expect_success 'sizes not a multiple of any block size' '
	mkfile odd 16777217 &&
	run_scp -O -q odd ours:$TRASH/odd.up &&
	run_scp -O -q ours:$TRASH/odd odd.down &&
	cmp odd odd.up && cmp odd odd.down
'

test_done
