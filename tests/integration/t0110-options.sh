#!/bin/sh
# Options (PROTOCOL.md §1 table, §3 ssh argv, §5 progress and -l): what
# reaches ssh is checked through tests/fixtures/ssh-log.sh, which logs its
# argv one argument per line and then execs the real ssh.
. "$(dirname "$0")/lib.sh"

SSHLOG=$TRASH/ssh.log
export SCPTEST_SSHLOG=$SSHLOG
WRAP=$FIXTURES/ssh-log.sh

# in_log ARG...: the arguments appear as consecutive lines of the log.
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

test_expect_success '-S program is used and gets the base ssh options' '
	: >"$SSHLOG" &&
	run_scp -O -S "$WRAP" f ours:$TRASH/s1 &&
	cmp f s1 &&
	in_log -x && in_log -oPermitLocalCommand=no &&
	in_log -oClearAllForwardings=yes && in_log -oRemoteCommand=none &&
	in_log -oRequestTTY=no && in_log -oForwardAgent=no
'

test_expect_success 'legacy remote command is "scp -t PATH" after --' '
	in_log -- ours "scp -t $TRASH/s1"
'

test_expect_success '-F reaches ssh' '
	in_log -F "$SSHCONF"
'

test_expect_success '-P port reaches ssh as -p' '
	: >"$SSHLOG" &&
	run_scp -O -S "$WRAP" -P 2202 f ours:$TRASH/s2 &&
	cmp f s2 && in_log -p 2202
'

test_expect_success '-i identity reaches ssh' '
	: >"$SSHLOG" &&
	run_scp -O -S "$WRAP" -i "$SCPTEST_RUNDIR/keys/client" f ours:$TRASH/s3 &&
	cmp f s3 && in_log -i "$SCPTEST_RUNDIR/keys/client"
'

test_expect_success '-o option reaches ssh (and takes effect)' '
	: >"$SSHLOG" &&
	run_scp -O -S "$WRAP" -o Compression=yes -oServerAliveInterval=7 \
	    f ours:$TRASH/s4 &&
	cmp f s4 && in_log -o Compression=yes &&
	in_log -o ServerAliveInterval=7
'

test_expect_success '-o User=... takes effect over the config' '
	expect_fail run_scp -O -o User=nobody-here f ours:$TRASH/s5 &&
	test ! -e s5
'

test_expect_success '-4 -C -c pass through' '
	: >"$SSHLOG" &&
	run_scp -O -S "$WRAP" -4 -C -c aes128-ctr f ours:$TRASH/s6 &&
	cmp f s6 && in_log -4 && in_log -C && in_log -c aes128-ctr
'

test_expect_success '-B adds -oBatchmode=yes' '
	: >"$SSHLOG" &&
	run_scp -O -S "$WRAP" -B f ours:$TRASH/s7 &&
	cmp f s7 && grep -ix -- -oBatchmode=yes "$SSHLOG"
'

test_expect_success '-J reaches ssh as -J host' '
	: >"$SSHLOG" &&
	SCPTEST_SSHLOG_NOEXEC=1 && export SCPTEST_SSHLOG_NOEXEC &&
	expect_fail run_scp -O -S "$WRAP" -J jumphost f ours:$TRASH/s8 &&
	in_log -J jumphost
'

test_expect_success '-v prints Executing: and passes -v to ssh and remote' '
	: >"$SSHLOG" &&
	run_scp -O -v -S "$WRAP" f ours:$TRASH/s9 >out 2>err &&
	cmp f s9 && grep_err "Executing:" &&
	in_log -v && grep -x "scp -v -t $TRASH/s9" "$SSHLOG"
'

test_expect_success '-r -p -d flags of the remote command' '
	: >"$SSHLOG" &&
	mkdir -p rdir rdir.to && mkfile rdir/a 1 &&
	run_scp -O -S "$WRAP" -r -p rdir f ours:$TRASH/rdir.to &&
	grep -x "scp -r -p -d -t $TRASH/rdir.to" "$SSHLOG" &&
	cmp rdir/a rdir.to/rdir/a

'

test_expect_success '-q passes -q to ssh' '
	: >"$SSHLOG" &&
	run_scp -O -q -S "$WRAP" f ours:$TRASH/s10 &&
	cmp f s10 && in_log -q
'

test_expect_success 'progress meter on a terminal, none with -q' '
	script -qec "$SCP -F $SSHCONF -O f ours:$TRASH/s11" /dev/null >tty1 &&
	cmp f s11 && grep -q "100%" tty1 &&
	script -qec "$SCP -F $SSHCONF -O -q f ours:$TRASH/s12" /dev/null >tty2 &&
	cmp f s12 && ! grep -q "%" tty2
'

test_expect_success 'no progress meter when stdout is not a terminal' '
	run_scp -O f ours:$TRASH/s13 >out &&
	cmp f s13 && test ! -s out
'

# 1 MiB at 800 Kbit/s is ~10 s; only a loose lower bound (5 s) so a busy
# machine cannot make it flaky.
test_expect_success '-l 800 slows a 1 MiB upload to several seconds' '
	t0=$(now) &&
	run_scp -O -q -l 800 onemeg ours:$TRASH/l1 &&
	t1=$(now) &&
	cmp onemeg l1 &&
	echo "took $((t1 - t0)) s" &&
	test $((t1 - t0)) -ge 5
'

test_expect_success '-l 800 slows a 1 MiB download too' '
	t0=$(now) &&
	run_scp -O -q -l 800 ours:$TRASH/onemeg l2 &&
	t1=$(now) &&
	cmp onemeg l2 &&
	echo "took $((t1 - t0)) s" &&
	test $((t1 - t0)) -ge 5
'

test_expect_success '-3 passes -oBatchMode=yes to the second ssh' '
	: >"$SSHLOG" &&
	run_scp -O -3 -S "$WRAP" ours:$TRASH/f ours:$TRASH/s14 &&
	cmp f s14 &&
	test "$(grep -c -- "^--- ssh" "$SSHLOG")" = 2 &&
	grep -ix -- -oBatchMode=yes "$SSHLOG"
'

test_done
