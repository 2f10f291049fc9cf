#!/bin/sh
# Session pools (src/transport/pool.c, docs/design-speed.md; PROTOCOL.md §7):
# several SFTP sessions over one private ControlMaster connection, extra
# connections, and the quiet fallback when sshd refuses channels
# (MaxSessions).  The pool is not wired into the CLI yet, so these cases
# drive it through the unit test binary's live case (test_ssh_pool in
# tests/unit/test_transport_pool.c), found next to $SCP in its build
# directory.
. "$(dirname "$0")/lib.sh"

POOLTEST=$(dirname "$SCP_REAL")/tests/unit/test_transport_pool

# Our own sshd_config with MaxSessions 2, and an ssh_config with the
# aliases "max2" for it and "counted" (ours, each connection leaving a
# line in $TRASH/conns) in front of the shared one.
sed 's/^LogLevel .*/LogLevel ERROR\
MaxSessions 2/' "$SCPTEST_RUNDIR/sshd_ours" >"$TRASH/sshd_max2"
chmod 0644 "$TRASH/sshd_max2"
{
	printf 'Host max2\n  ProxyCommand /usr/sbin/sshd -i -f %s\n' \
	    "$TRASH/sshd_max2"
	# "once": the first connection works, later ones are dropped before
	# the SSH banner, as sshd's MaxStartups drops them (sshd -i has no
	# listener, so MaxStartups itself cannot be set up here).
	printf 'Host once\n  ProxyCommand sh -c "mkdir %s 2>/dev/null || exit 1; exec %s"\n' \
	    "$TRASH/once.lock" "/usr/sbin/sshd -i -f $SCPTEST_RUNDIR/sshd_ours"
	printf 'Host counted\n  ProxyCommand sh -c "echo >>%s; exec %s"\n' \
	    "$TRASH/conns" "/usr/sbin/sshd -i -f $SCPTEST_RUNDIR/sshd_ours"
	cat "$SSHCONF"
} >"$TRASH/ssh_pool"

# pool HOST CHANNELS CONNS EXPECT: open the pool with TMPDIR=$TRASH/tmp
# (so its socket directory is ours to inspect), upload one file per
# session into $TRASH/rd, close.  Output in ./out and ./err.
pool () {
	rm -rf "$TRASH/rd" "$TRASH/tmp"
	mkdir -p "$TRASH/rd" "$TRASH/tmp"
	chown "$TEST_USER:" "$TRASH/rd"
	_st=0
	TMPDIR=$TRASH/tmp POOL_TEST_SSHCONF=$TRASH/ssh_pool \
	    POOL_TEST_HOST=$1 POOL_TEST_DIR=$TRASH/rd \
	    POOL_TEST_CHANNELS=$2 POOL_TEST_CONNS=$3 POOL_TEST_EXPECT=$4 \
	    CMOCKA_MESSAGE_OUTPUT=stdout \
	    timeout -k 5 "$SCPTEST_TIMEOUT" "$POOLTEST" >out 2>err ||
	    _st=$?
	cat out err >&2
	if [ "$_st" -ne 0 ]; then
		echo "test_transport_pool exited $_st" >&2
		return 1
	fi
	grep -F "pool: $4 sessions of $(($2 + $3))" out >/dev/null || {
		echo "no 'pool: $4 sessions' line: live case skipped?" >&2
		return 1
	}
	_n=$(ls "$TRASH/rd" | grep -c '^pool\.')
	if [ "$_n" -ne "$4" ]; then
		echo "$_n files uploaded, want $4" >&2
		return 1
	fi
	return 0
}

# no_leftovers: the socket directory is gone and no ssh of ours runs.
no_leftovers () {
	if [ -n "$(ls -A "$TRASH/tmp")" ]; then
		ls -la "$TRASH/tmp" >&2
		echo "pool directory left behind" >&2
		return 1
	fi
	if ps -eo pid,args | grep -F "$TRASH/tmp/" | grep -v grep >&2; then
		echo "an ssh of the pool still runs" >&2
		return 1
	fi
	return 0
}

# quiet_err: nothing on stderr but cmocka's own summary line.
quiet_err () {
	if grep -v -F '[  PASSED  ]' err >&2; then
		echo "unexpected output on stderr" >&2
		return 1
	fi
	return 0
}

if [ ! -x "$POOLTEST" ]; then
	test_skip 'pool of 4 channels' "no $POOLTEST"
	test_expect_success 'refused extra connections: fewer sessions, no noise' '
	rm -rf "$TRASH/once.lock" &&
	pool once 2 2 2 &&
	no_leftovers &&
	quiet_err
'

test_done
fi

test_expect_success 'pool of 4 channels over one connection' '
	pool ours 4 0 4 &&
	no_leftovers &&
	quiet_err
'

test_expect_success 'channels share one connection, extras have their own' '
	rm -f "$TRASH/conns" &&
	pool counted 4 0 4 &&
	test "$(wc -l <"$TRASH/conns")" -eq 1 &&
	rm -f "$TRASH/conns" &&
	pool counted 2 2 4 &&
	test "$(wc -l <"$TRASH/conns")" -eq 3
'

test_expect_success 'pool of 2 channels and 2 extra connections' '
	pool ours 2 2 4 &&
	no_leftovers
'

test_expect_success 'a pool of one is a plain connection' '
	pool ours 1 0 1 &&
	no_leftovers
'

test_expect_success 'MaxSessions 2: pool of 4 gets 2, no error, no noise' '
	pool max2 4 0 2 &&
	no_leftovers &&
	quiet_err
'

test_expect_success 'MaxSessions 2: extra connections still count' '
	pool max2 3 2 4 &&
	no_leftovers &&
	quiet_err
'

test_expect_success 'refused extra connections: fewer sessions, no noise' '
	rm -rf "$TRASH/once.lock" &&
	pool once 2 2 2 &&
	no_leftovers &&
	quiet_err
'

test_done
