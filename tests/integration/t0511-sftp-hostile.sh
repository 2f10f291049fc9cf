#!/bin/sh
# Hostile SFTP servers (PROTOCOL.md §4, docs/protocol-sftp.md): the
# compiled tests/fixtures/fake-sftp-server answers INIT/VERSION properly
# and then misbehaves as $SCPTEST_SFTP_MODE says.  It is reached both as
# the -D program and through -S (tests/fixtures/fake-sftp-ssh.sh execs
# it).  Every case: non-zero exit, a clear message, nothing outside the
# target (sentinel), no hang (every run is bounded by a short timeout,
# which expect_fail/expect_rc treat as a failure).  OpenSSH 9.2 exits 0
# on several of these (a dropped suspect name, a failed WRITE, a size of
# 2^63, a 300-byte handle), lets a BEL through and leaves partial files:
# those cases are test_expect_success_ours.
. "$(dirname "$0")/lib.sh"

SCPTEST_TIMEOUT=60
FX=$(dirname "$SCP")/tests/fixtures/fake-sftp-server
FXSSH=$FIXTURES/fake-sftp-ssh.sh
SCPTEST_SFTP_SERVER=$FX
SCPTEST_SFTP_ABS=$TRASH/abs-evil
export SCPTEST_SFTP_SERVER SCPTEST_SFTP_ABS

if [ ! -x "$FX" ]; then
	test_skip 'hostile SFTP server cases' "no fixture at $FX"
	test_done
fi

ESC=$(printf '\033')
BEL=$(printf '\007')

# viaD MODE ARGS... / viaS MODE ARGS...: the client against the fake.
viaD () {
	SCPTEST_SFTP_MODE=$1
	export SCPTEST_SFTP_MODE
	shift
	run_scp -D "$FX" "$@"
}

viaS () {
	SCPTEST_SFTP_MODE=$1
	export SCPTEST_SFTP_MODE
	shift
	run_scp -S "$FXSSH" "$@"
}

# box NAME: a fresh sentinel directory; the target is NAME/target.
box () {
	rm -rf "$1" && sentinel "$1"
}

# no_raw_escapes [FILE]: no ESC or BEL byte reached our stderr.
no_raw_escapes () {
	if grep -q "[$ESC$BEL]" "${1:-err}"; then
		echo "raw terminal escape in ${1:-err}" >&2
		return 1
	fi
}

nothing_outside () {
	test ! -e "$TRASH/evil" && test ! -e "$TRASH/abs-evil" &&
	test ! -e "$TRASH/a/b" && test ! -e /tmp/scptest-fake-sftp-abs
}

test_expect_success 'fake server sanity: good file and -r tree (-D and -S)' '
	box b0 &&
	viaD good host:dir/file b0/target &&
	test "$(cat b0/target)" = xxxxx &&
	viaS good host:dir/file b0/target2 &&
	test "$(cat b0/target2)" = xxxxx &&
	viaD good -r host:dir b0/tree &&
	test "$(cat b0/tree/good)" = xxxxx &&
	test "$(cat b0/tree/subdir/good)" = xxxxx
'

# The connection's session writes its first requests right behind INIT
# (docs/protocol-sftp.md "Sizes"); OpenSSH's client waits for VERSION.
test_expect_success_ours 'first requests follow INIT before VERSION (-D and -S)' '
	rm -rf b1 && mkdir b1 &&
	SCPTEST_SFTP_LOG=$TRASH/early.log && export SCPTEST_SFTP_LOG &&
	viaD early-requests host:dir/file b1/target &&
	test "$(cat early.log)" = early && rm -f early.log &&
	test "$(cat b1/target)" = xxxxx &&
	viaS early-requests -r host:dir b1/tree &&
	test "$(cat early.log)" = early && rm -f early.log &&
	test "$(cat b1/tree/subdir/good)" = xxxxx &&
	viaD early-requests b1/target host:dir/up &&
	test "$(cat early.log)" = early && rm -f early.log &&
	viaD early-requests -X channels=2 host:dir/file b1/target3 &&
	test "$(cat early.log)" = late &&
	test "$(cat b1/target3)" = xxxxx &&
	unset SCPTEST_SFTP_LOG
'

# A directory upload walks before the target's answers (up_spec.c, the
# speculative tree): the MKDIR of the temporary tree and the files'
# OPENs (3; WRITEs, 6, need a handle) travel with INIT.
test_expect_success_ours 'a directory upload opens its files before VERSION (-D)' '
	rm -rf b1 && mkdir -p b1/nosuchtree/sub &&
	echo a >b1/nosuchtree/f1 && echo b >b1/nosuchtree/sub/f2 &&
	SCPTEST_SFTP_LOG=$TRASH/early.log &&
	SCPTEST_SFTP_PEEKLOG=$TRASH/peek.log &&
	export SCPTEST_SFTP_LOG SCPTEST_SFTP_PEEKLOG &&
	viaD early-requests -r b1/nosuchtree host:dir/ &&
	unset SCPTEST_SFTP_LOG SCPTEST_SFTP_PEEKLOG &&
	test "$(cat early.log)" = early &&
	test "$(grep -cx 3 peek.log)" = 2 &&
	test "$(grep -cx 14 peek.log)" = 2 &&
	! grep -qx 6 peek.log
'

# OpenSSH's sftp-server handles one request per 16 KiB it reads, so a
# burst of small WRITEs piles up in its input buffer (upq_budget.c,
# upq_small_max()).  With -D (a local server) at most 128 KiB of them
# wait for replies at once.  Through ssh (-S) 512 KiB until the round
# trip is timed, and 1 MiB once it is known to be long (the held replies
# make it 300 ms).
#
# held_small VIA LOW HIGH: uploads 600 files of 4000 bytes (2.4 MB)
# through VIA; the most WRITE data held at once is above LOW and at most
# HIGH.
held_small () {
	rm -rf b1 && mkdir -p b1/nosuchmany &&
	i=0 && while [ $i -lt 600 ]; do
		head -c 4000 /dev/zero >b1/nosuchmany/f$i && i=$((i + 1)) ||
		return 1
	done &&
	SCPTEST_SFTP_LOG=$TRASH/hold.log && export SCPTEST_SFTP_LOG &&
	$1 hold-writes -r b1/nosuchmany host:dir/ &&
	unset SCPTEST_SFTP_LOG &&
	held=$(cat hold.log) && echo "held at most $held" >&2 &&
	test "$held" -gt "$2" && test "$held" -le "$3"
}

test_expect_success_ours 'small WRITEs outstanding stay within 128 KiB (-D)' '
	held_small viaD 0 131072
'

test_expect_success_ours 'small WRITEs outstanding stay within 1 MiB (-S)' '
	held_small viaS 131072 1048576
'

# A file's download (download_file(), 64 KiB and up) opens it without
# waiting for the timed limits reply: only a file big enough to split
# needs the round trip, and its OPEN goes out before that wait.  One
# round trip less after VERSION.
test_expect_success_ours 'a download does not wait for the timed limits reply (-D)' '
	rm -rf b1 && mkdir b1 && rm -f open.log &&
	SCPTEST_SFTP_OPENLOG=$TRASH/open.log SCPTEST_SFTP_SIZE=100000 &&
	export SCPTEST_SFTP_OPENLOG SCPTEST_SFTP_SIZE &&
	viaD hold-writes host:dir/file b1/x &&
	unset SCPTEST_SFTP_OPENLOG SCPTEST_SFTP_SIZE &&
	test "$(wc -c <b1/x)" -eq 100000 &&
	test "$(head -n 1 open.log)" = held
'

for via in viaD viaS; do

test_expect_success_ours "$via: READDIR names ../evil, a/b, ., .., absolute (-r)" '
	box b1 &&
	expect_rc 1 $via readdir-evil -r host:dir b1/target &&
	grep_err "Server sent suspect path \"../evil\"" &&
	grep_err "Server sent suspect path \"a/b\"" &&
	grep_err "Server sent suspect path \"$TRASH/abs-evil\"" &&
	test "$(cat b1/target/good)" = xxxxx &&
	test "$(ls -A b1/target)" = good &&
	check_sentinel b1 && nothing_outside
'

test_expect_success "$via: READDIR evil names through a glob" '
	box b2 && mkdir b2/target &&
	{ $via readdir-evil "host:dir/*" b2/target >out 2>err || true; } &&
	cat err >&2 &&
	grep_err "Server sent suspect path" &&
	test "$(ls -A b2/target)" = good &&
	check_sentinel b2 && nothing_outside
'

test_expect_success_ours "$via: escapes in names and longnames are escaped" '
	box b3 &&
	expect_rc 1 $via escape-names -r host:dir b3/target &&
	no_raw_escapes && grep_err "\\033[31mRED" &&
	check_sentinel b3
'

test_expect_success_ours "$via: escapes in a STATUS message are escaped" '
	mkfile small 10 &&
	expect_rc 255 $via escape-status small "host:~u/x" &&
	no_raw_escapes && grep_err "no such user \\033[31mRED"
'

test_expect_success_ours "$via: DATA longer than asked" '
	box b4 &&
	expect_fail $via data-long host:dir/file b4/target &&
	grep_err "more data than asked" &&
	test ! -e b4/target && check_sentinel b4
'

test_expect_success "$via: a reply with a wrong request id" '
	box b5 &&
	expect_fail $via wrong-id host:dir/file b5/target &&
	grep -E "Unexpected reply|ID mismatch" err &&
	test ! -e b5/target && check_sentinel b5
'

test_expect_success "$via: a 4 GiB message length" '
	box b6 &&
	expect_rc 255 $via len-4g host:dir/file b6/target &&
	grep_err "Received message too long 4294967295" &&
	test ! -e b6/target && check_sentinel b6
'

test_expect_success "$via: a truncated message then EOF" '
	box b7 &&
	expect_rc 255 $via truncated host:dir/file b7/target &&
	grep_err "Connection closed" &&
	test ! -e b7/target && check_sentinel b7
'

test_expect_success "$via: text instead of VERSION" '
	box b8 &&
	expect_rc 255 $via version-garbage host:dir/file b8/target &&
	grep_err "Ensure the remote shell produces no output" &&
	test ! -e b8/target && check_sentinel b8
'

test_expect_success "$via: a NAME reply claiming 2^32-1 entries" '
	box b9 &&
	expect_fail $via count-huge -r host:dir b9/target &&
	grep -E "Malformed NAME reply|nonsensical number of entries" err &&
	check_sentinel b9
'

test_expect_success_ours "$via: STAT size 2^63" '
	box b10 &&
	expect_rc 1 $via size-2p63 host:dir/file b10/target &&
	grep_err "9223372036854775808" &&
	test ! -e b10/target && check_sentinel b10
'

test_expect_success_ours "$via: a STATUS failure in the middle of a write" '
	mkfile big 3000000 &&
	expect_rc 1 $via write-fail big host:dir/up &&
	grep_err "write remote \"dir/up\": Failure" &&
	grep_err "failed to upload file big"
'

test_expect_success_ours "$via: a 300-byte handle" '
	box b11 &&
	expect_fail $via handle-long host:dir/file b11/target &&
	grep_err "Malformed HANDLE reply" &&
	test ! -e b11/target && check_sentinel b11
'

test_expect_success "$via: REALPATH answers ../../evil (-r)" '
	box b12 &&
	expect_fail $via realpath-evil -r host:dir b12/target &&
	check_sentinel b12 && nothing_outside
'

done

# -3 relays: both "hosts" are the fake (writes are dropped), the origin's
# misbehaviour must still end the copy with an error.
test_expect_success_ours '-3 relay: suspect READDIR names make the copy fail' '
	expect_rc 1 viaS readdir-evil -3 -r host1:dir host2:dir/x &&
	grep_err "Server sent suspect path \"../evil\"" && nothing_outside
'

test_expect_success_ours '-3 relay: EOF before the STAT size is an error' '
	expect_rc 1 viaS size-2p63 -3 host1:dir/file host2:dir/x &&
	grep_err "file changed size during transfer"
'

test_expect_success '-3 relay: DATA longer than asked, malformed NAME' '
	expect_fail viaS data-long -3 host1:dir/file host2:dir/x &&
	grep_err "more data than asked" &&
	expect_fail viaS count-huge -3 -r host1:dir host2:dir/x
'

# A READDIR that never ends: the listing is capped, memory stays bounded
# (OpenSSH 9.2 grows past 1 GiB and never finishes).
# endless_rss KB HOW ARGS...: the client (HOW: -D or -S) against
# readdir-endless under GNU time; exit status 1, peak RSS below KB.
endless_rss () {
	_lim=$1
	_how=$2
	shift 2
	if [ "$_how" = -D ]; then
		_prog=$FX
	else
		_prog=$FXSSH
	fi
	own_trash
	_st=0
	SCPTEST_SFTP_MODE=readdir-endless /usr/bin/time -f "maxrss=%M" \
	    -o rss.out timeout -k 5 "$SCPTEST_TIMEOUT" "$SCP" -F "$SSHCONF" \
	    "$_how" "$_prog" "$@" </dev/null >out 2>err || _st=$?
	cat out err rss.out >&2
	_kb=$(sed -n "s/^maxrss=//p" rss.out)
	test "$_st" = 1 && test -n "$_kb" && test "$_kb" -lt "$_lim"
}

if [ -x /usr/bin/time ]; then
test_expect_success_ours 'READDIR that never ends (-r): error, bounded memory' '
	box b13 &&
	endless_rss 300000 -D -r host:dir b13/target &&
	grep_err "too many entries" && check_sentinel b13 &&
	test ! -e b13/target/f000000001
'

test_expect_success_ours 'READDIR that never ends (glob, -S): error, bounded memory' '
	box b14 &&
	endless_rss 300000 -S "host:dir/*" b14/target &&
	grep_err "too many" && check_sentinel b14
'
else
test_skip 'READDIR that never ends' 'no /usr/bin/time'
fi

test_done
