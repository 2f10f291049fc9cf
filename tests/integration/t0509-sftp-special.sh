#!/bin/sh
# Special files as SFTP sources (PROTOCOL.md §4, §6: OpenSSH 9.2 blocks
# forever opening a FIFO operand): refused, never a hang.  Every run is
# bounded by a short timeout; a timeout fails the test (expect_fail).
. "$(dirname "$0")/lib.sh"

SCPTEST_TIMEOUT=20

test_expect_success 'setup' '
	mkfifo fifo && mkfile f 100 &&
	mkdir -p tr && mkfile tr/a 10 && mkfifo tr/p && mkfile tr/z 20
'

test_expect_success_ours 'a FIFO upload operand is refused without hanging' '
	expect_rc 1 run_scp fifo ours:$TRASH/fifo.up &&
	grep_err "not a regular file" &&
	test ! -e fifo.up
'

test_expect_success_ours 'a FIFO among several sources: the others are copied' '
	mkdir -p fmany &&
	expect_rc 1 run_scp fifo f ours:$TRASH/fmany &&
	cmp f fmany/f && test ! -e fmany/fifo
'

test_expect_success '/dev/zero as a source is refused' '
	expect_rc 1 run_scp /dev/zero ours:$TRASH/zero.up &&
	grep_err "not a regular file" &&
	test ! -e zero.up
'

test_expect_success '-r: a FIFO inside a tree is skipped, the rest copied' '
	{ run_scp -r tr ours:$TRASH/tr.up || true; } &&
	cmp tr/a tr.up/a && cmp tr/z tr.up/z && test ! -e tr.up/p
'

test_expect_success 'download of a remote FIFO is refused' '
	expect_rc 1 run_scp ours:$TRASH/fifo fifo.dl &&
	grep_err "not a regular file" &&
	test ! -e fifo.dl
'

test_expect_success 'download of /dev/zero is refused' '
	expect_rc 1 run_scp ours:/dev/zero zero.dl &&
	grep_err "not a regular file" &&
	test ! -e zero.dl
'

test_expect_success '-r download: a remote FIFO inside a tree is skipped' '
	{ run_scp -r ours:$TRASH/tr tr.dl || true; } &&
	cmp tr/a tr.dl/a && cmp tr/z tr.dl/z && test ! -e tr.dl/p
'

test_expect_success '-3: a remote FIFO source is refused' '
	expect_rc 1 run_scp -3 ours:$TRASH/fifo ours:$TRASH/fifo.3 &&
	test ! -e fifo.3
'

# A special file as the target is written in place (as cp would).
test_expect_success 'download to /dev/null' '
	run_scp ours:$TRASH/f /dev/null &&
	test -c /dev/null
'

test_done
