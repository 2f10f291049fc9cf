#!/bin/sh
# The total-progress line (issue 16, doc/scp.1 --progress): on a pty
# (script(1)) one line for the whole copy with a count and an ETA that
# reaches 100% once; none under -q, none without a terminal; a single
# file keeps OpenSSH's meter, --progress=file gives it back for many.
. "$(dirname "$0")/lib.sh"

# on_pty ARGS...: scp ARGS with stdout and stderr on a pty; what it
# drew goes to ./tty.
on_pty () {
	own_trash
	echo "+ (pty) scp $*" >&2
	# script(1) takes one command string: quote nothing fancy here.
	timeout -k 5 "$SCPTEST_TIMEOUT" script -qfec \
	    "$SCP -F $SSHCONF $*" /dev/null </dev/null >tty 2>&1
}

test_expect_success 'setup' '
	for i in 1 2 3; do mkfile big/f$i 300000 || return 1; done &&
	mkfile one 300000
'

# -l 4000 (500 kB/s): the copy takes about 2 s, several redraws.
test_expect_success 'a -r upload on a pty: the total line, 100% once' '
	on_pty -l 4000 -r big ours:$TRASH/up1 &&
	cmp big/f3 up1/f3 &&
	grep -q "/3 files" tty &&
	grep -q " ETA " tty &&
	test "$(grep -o "100%" tty | wc -l)" = 1 &&
	grep -q "3/3 files .* 100% " tty
'

test_expect_success 'several sources download: the total line' '
	mkdir -p dl2 &&
	on_pty -l 4000 ours:$TRASH/big/f1 ours:$TRASH/big/f2 dl2/ &&
	cmp big/f2 dl2/f2 &&
	grep -q "/2+* files" tty &&
	test "$(grep -o "100%" tty | wc -l)" = 1
'

test_expect_success '-q: no line' '
	on_pty -q -r big ours:$TRASH/up2 &&
	cmp big/f1 up2/f1 &&
	! grep -q "files" tty && ! grep -q "%" tty
'

test_expect_success 'not a terminal: no line' '
	expect_rc 0 run_scp -r big ours:$TRASH/up3 &&
	! grep -q "files" out && ! grep -q "%" out && ! grep -q "%" err
'

test_expect_success 'one file: OpenSSH meter, no total line' '
	on_pty one ours:$TRASH/one.up &&
	cmp one one.up &&
	! grep -q "files" tty && grep -q "one .*100%" tty
'

test_expect_success '--progress=file: one meter per file' '
	on_pty --progress=file -r big ours:$TRASH/up4 &&
	! grep -q "files" tty &&
	test "$(grep -o "100%" tty | wc -l)" = 3
'

test_expect_success '--progress=none: nothing' '
	on_pty --progress=none -r big ours:$TRASH/up5 &&
	cmp big/f2 up5/f2 && ! grep -q "%" tty
'

test_expect_success 'the line is erased before an error message' '
	{ on_pty -l 4000 -r big nosuch ours:$TRASH/up6 || true; } &&
	esc=$(printf "\033") &&
	grep -q "files.*$esc\[Kscp: stat local \"nosuch\"" tty
'

test_expect_success '--progress=bad: 255' '
	expect_rc 255 run_scp --progress=bad one ours:$TRASH/x &&
	grep_err "Invalid --progress \"bad\""
'
test_done
