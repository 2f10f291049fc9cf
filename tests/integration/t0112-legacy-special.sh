#!/bin/sh
# Special targets and sources with the legacy protocol (PROTOCOL.md §2,
# docs/protocol-scp.md "Writing"): /dev/null targets are written in place,
# FIFOs are refused without blocking, a file copied onto itself survives,
# setuid bits are kept with -p, -v traces.
. "$(dirname "$0")/lib.sh"

test_expect_success 'setup' '
	mkfile f 50000 && cp f f.orig
'

test_expect_success 'download to /dev/null keeps it a device' '
	run_scp -O ours:$TRASH/f /dev/null &&
	test -c /dev/null
'

test_expect_success 'upload to a remote /dev/null keeps it a device' '
	run_scp -O f ours:/dev/null &&
	test -c /dev/null
'

test_expect_success 'a FIFO source is refused at once (not a regular file)' '
	mkfifo fifo &&
	expect_rc 1 run_scp -O fifo ours:$TRASH/fifo.out &&
	grep_err "not a regular file" &&
	test ! -e fifo.out
'

test_expect_success 'a remote FIFO source is refused at once' '
	mkfifo rfifo &&
	expect_rc 1 run_scp -O ours:$TRASH/rfifo rfifo.out &&
	grep_err "not a regular file" &&
	test ! -e rfifo.out
'

test_expect_success 'upload of a file onto itself keeps its contents' '
	run_scp -O f ours:$TRASH/f &&
	cmp f f.orig
'

test_expect_success 'download of a file onto itself keeps its contents' '
	run_scp -O ours:$TRASH/f f &&
	cmp f f.orig
'

# PROTOCOL.md §2 says -p restores the sent mode.  Observed: OpenSSH 9.2
# (Debian) as a non-root sink drops 06000 even with -p (as root it keeps
# them, see the download case), so this is ours-only.
test_expect_success_ours '-p upload keeps setuid and setgid bits' '
	mkfile su 10 && own_trash && chmod 6755 su &&
	run_scp -O -p su ours:$TRASH/su.up &&
	test_mode su.up 6755
'

test_expect_success '-p download keeps setuid bits' '
	run_scp -O -p ours:$TRASH/su su.down &&
	test_mode su.down 6755
'

test_expect_success 'without -p a download drops setuid bits' '
	run_scp -O ours:$TRASH/su su.plain &&
	test_mode su.plain 755
'

test_expect_success 'sticky bit is never sent' '
	mkdir -p stick && own_trash && chmod 1777 stick &&
	mkfile stick/x 1 &&
	run_scp -O -rp ours:$TRASH/stick stick.down &&
	test_mode stick.down 777
'

test_expect_success '-v upload traces the records' '
	run_scp -O -v f ours:$TRASH/v.up 2>err &&
	grep_err "Executing:" &&
	grep_err "Sending file modes: C0" &&
	cmp f v.up
'

test_expect_success '-v -p download traces the records' '
	run_scp -O -v -p ours:$TRASH/f v.down 2>err &&
	grep_err "Sink: C0" && grep_err "Sink: T" &&
	cmp f v.down
'

test_done
