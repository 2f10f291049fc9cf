#!/bin/sh
# Options in SFTP mode (PROTOCOL.md §1 table, §3 "sftp:" argv, §4 -X,
# §5 progress and -l).  What reaches ssh is checked through
# tests/fixtures/ssh-log.sh.
. "$(dirname "$0")/lib.sh"

SSHLOG=$TRASH/ssh.log
export SCPTEST_SSHLOG=$SSHLOG
WRAP=$FIXTURES/ssh-log.sh
SFTPSERVER=/usr/lib/openssh/sftp-server

in_log () {
	_want=$(printf '%s\n' "$@")
	_n=$#
	awk -v n="$_n" -v want="$_want" '
		{ line[NR] = $0 }
		END {
			for (i = 1; i + n - 1 <= NR; i++) {
				s = line[i]
				for (j = 1; j < n; j++) s = s "\n" line[i + j]
				if (s == want) exit 0
			}
			exit 1
		}' "$SSHLOG" || { echo "not in ssh argv: $*" >&2; return 1; }
}

test_expect_success 'setup' '
	mkfile f 100000 && mkfile onemeg 1048576
'

test_expect_success 'the default protocol is SFTP: ssh -s -- host sftp' '
	: >"$SSHLOG" &&
	run_scp -S "$WRAP" f ours:$TRASH/s1 &&
	cmp f s1 &&
	in_log -s -- ours sftp && in_log -oForwardAgent=no &&
	! grep -q "^scp " "$SSHLOG"
'

test_expect_success '-O then -s: the last wins (SFTP)' '
	: >"$SSHLOG" &&
	run_scp -O -s -S "$WRAP" f ours:$TRASH/s2 &&
	cmp f s2 && in_log -s -- ours sftp
'

test_expect_success '-s then -O: the last wins (legacy)' '
	: >"$SSHLOG" &&
	run_scp -s -O -S "$WRAP" f ours:$TRASH/s3 &&
	cmp f s3 && in_log -- ours "scp -t $TRASH/s3" &&
	! grep -qx sftp "$SSHLOG"
'

test_expect_success '-v prints Executing: and passes -v to ssh' '
	: >"$SSHLOG" &&
	run_scp -v -S "$WRAP" f ours:$TRASH/s4 >out 2>err &&
	cmp f s4 && grep_err "Executing:" && in_log -v &&
	in_log -s -- ours sftp
'

# The fallback watches ssh (src/cli/run.h): -q becomes a LogLevel that
# still reports the subsystem's refusal, after the user's options; with
# -s nothing is watched and ssh gets -q.
test_expect_success '-q: ssh gets -oLogLevel=FATAL, or -q with -s' '
	: >"$SSHLOG" &&
	run_scp -q -S "$WRAP" f ours:$TRASH/s5 &&
	cmp f s5 && in_log -oLogLevel=FATAL -oForwardAgent=no &&
	! grep -qx -- -q "$SSHLOG" &&
	: >"$SSHLOG" &&
	run_scp -s -q -S "$WRAP" f ours:$TRASH/s5s &&
	cmp f s5s && in_log -q -oForwardAgent=no &&
	! grep -q LogLevel "$SSHLOG"
'

test_expect_success '-P and -l user reach ssh' '
	: >"$SSHLOG" &&
	SCPTEST_SSHLOG_NOEXEC=1 && export SCPTEST_SSHLOG_NOEXEC &&
	expect_fail run_scp -P 2202 -S "$WRAP" f someone@ours:$TRASH/s6 &&
	in_log -p 2202 && in_log -l someone -s -- ours sftp
'

test_expect_success 'progress meter on a terminal, none with -q' '
	script -qec "$SCP -F $SSHCONF f ours:$TRASH/s7" /dev/null >tty1 &&
	cmp f s7 && grep -q "100%" tty1 &&
	script -qec "$SCP -F $SSHCONF ours:$TRASH/f s7d" /dev/null >tty3 &&
	cmp f s7d && grep -q "100%" tty3 &&
	script -qec "$SCP -F $SSHCONF -q f ours:$TRASH/s8" /dev/null >tty2 &&
	cmp f s8 && ! grep -q "%" tty2
'

test_expect_success 'no progress meter when stdout is not a terminal' '
	run_scp f ours:$TRASH/s9 >out &&
	cmp f s9 && test ! -s out
'

test_expect_success '-l 800 slows a 1 MiB upload to several seconds' '
	t0=$(now) &&
	run_scp -q -l 800 onemeg ours:$TRASH/l1 &&
	t1=$(now) &&
	cmp onemeg l1 &&
	echo "took $((t1 - t0)) s" &&
	test $((t1 - t0)) -ge 5
'

test_expect_success '-l 800 slows a 1 MiB download too' '
	t0=$(now) &&
	run_scp -q -l 800 ours:$TRASH/onemeg l2 &&
	t1=$(now) &&
	cmp onemeg l2 &&
	echo "took $((t1 - t0)) s" &&
	test $((t1 - t0)) -ge 5
'

test_expect_success '-X buffer=N and nrequests=N: valid copies both ways' '
	for x in buffer=1 buffer=512 buffer=64K buffer=261120 \
	    nrequests=1 nrequests=3 nrequests=262144; do
		rm -f x.up x.dl &&
		run_scp -X $x onemeg ours:$TRASH/x.up &&
		cmp onemeg x.up &&
		run_scp -X $x ours:$TRASH/onemeg x.dl &&
		cmp onemeg x.dl || exit 1
	done
'

# OpenSSH 9.2 sends a 262169-byte WRITE, over the server's limit, and
# dies ("Outbound message too long"); ours keeps within the limits.
test_expect_success_ours '-X buffer=262144 (the maximum) copies both ways' '
	rm -f x.up x.dl &&
	run_scp -X buffer=262144 onemeg ours:$TRASH/x.up &&
	cmp onemeg x.up &&
	run_scp -X buffer=262144 ours:$TRASH/onemeg x.dl &&
	cmp onemeg x.dl
'

test_expect_success '-X small buffer and nrequests: -3 relay and -D' '
	run_scp -X buffer=1000 -X nrequests=1 -3 ours:$TRASH/f ours:$TRASH/x3 &&
	cmp f x3 &&
	run_scp -X buffer=777 -X nrequests=2 -D $SFTPSERVER f host:$TRASH/xd &&
	cmp f xd
'

test_expect_success '-X invalid values: fatal 255 with OpenSSH messages' '
	expect_rc 255 run_scp -X buffer=0 f ours:$TRASH/bad &&
	grep_err "Invalid buffer size \"0\": Invalid argument" &&
	expect_rc 255 run_scp -X buffer=262145 f ours:$TRASH/bad &&
	grep_err "Invalid buffer size \"262145\": Invalid argument" &&
	expect_rc 255 run_scp -X buffer=abc f ours:$TRASH/bad &&
	grep_err "Invalid buffer size \"abc\"" &&
	expect_rc 255 run_scp -X nrequests=0 f ours:$TRASH/bad &&
	grep_err "Invalid number of requests \"0\": too small" &&
	expect_rc 255 run_scp -X nrequests=abc f ours:$TRASH/bad &&
	grep_err "Invalid number of requests \"abc\": invalid" &&
	expect_rc 255 run_scp -X nrequests=262145 f ours:$TRASH/bad &&
	grep_err "Invalid number of requests \"262145\"" &&
	expect_rc 255 run_scp -X foo=1 f ours:$TRASH/bad &&
	grep_err "Invalid -X option" &&
	test ! -e bad
'

test_done
