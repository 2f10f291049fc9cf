#!/bin/sh
# One big file over several SFTP sessions (src/xfer/multi.c,
# src/cli/run_sftp.c; docs/design-speed.md; PROTOCOL.md section 7):
# -X channels=N splits the file into ranges copied over N channels of one
# private ControlMaster connection; the result must be byte-identical,
# keep -p's mode and times, and fall back cleanly when sshd refuses
# channels (MaxSessions).  "multi: ... over N sessions" (-v) proves the
# split happened.
. "$(dirname "$0")/lib.sh"

# An sshd that allows 2 sessions per connection, as host "max2".
sed 's/^LogLevel .*/LogLevel ERROR\
MaxSessions 2/' "$SCPTEST_RUNDIR/sshd_ours" >"$TRASH/sshd_max2"
chmod 0644 "$TRASH/sshd_max2"
{
	printf 'Host max2\n  ProxyCommand /usr/sbin/sshd -i -f %s\n' \
	    "$TRASH/sshd_max2"
	cat "$SSHCONF"
} >"$TRASH/ssh_multi"

# scp_multi ARGS...: run_scp with the config above; TMPDIR=$TRASH/tmp so
# the pool's socket directory is ours to inspect.
scp_multi () {
	own_trash
	mkdir -p "$TRASH/tmp"
	echo "+ scp -F ssh_multi $*" >&2
	TMPDIR=$TRASH/tmp timeout -k 5 "$SCPTEST_TIMEOUT" "$SCP" \
	    -F "$TRASH/ssh_multi" "$@" </dev/null
}

# split_over N: the last copy was split over N sessions (./err of -v).
split_over () {
	grep -E "multi: [0-9]+ bytes over $1 sessions" err >/dev/null || {
		echo "not split over $1 sessions" >&2
		return 1
	}
}

# auto_split MIN MAX: the last copy (automatic mode, -v) used between MIN
# and MAX sessions: it starts on those ready ("over K sessions", maybe
# only the first) and the others join as their channel opens ("session
# I joins", I counted from 0).
auto_split () {
	_k=$(sed -n "s/.*multi: [0-9]* bytes over \([0-9]*\) sessions.*/\1/p" err)
	_j=$(grep -c "multi: session [0-9]* joins" err)
	if [ -z "$_k" ] || [ $((_k + _j)) -lt "$1" ] ||
	    [ $((_k + _j)) -gt "$2" ]; then
		echo "automatic split over ${_k:-no} + $_j sessions," \
		    "not $1-$2" >&2
		return 1
	fi
}

# no_leftovers DIR: no temporary file in DIR, no pool directory, no ssh
# of the pool still running.
no_leftovers () {
	if ls -A "$1" | grep -F '.scp-part' >&2; then
		echo "temporary file left in $1" >&2
		return 1
	fi
	if [ -n "$(ls -A "$TRASH/tmp" 2>/dev/null)" ]; then
		ls -la "$TRASH/tmp" >&2
		echo "pool directory left behind" >&2
		return 1
	fi
	if ps -eo pid,args | grep -F "$TRASH/tmp/" | grep -v grep >&2; then
		echo "an ssh of the pool still runs" >&2
		return 1
	fi
}

# One error line about `1` in ./err.
reported_once () {
	_n=$(grep -c -F -e "$1" err)
	if [ "$_n" -ne 1 ]; then
		echo "\"$1\" reported $_n times" >&2
		return 1
	fi
}

test_expect_success 'setup: a 40 MiB random file with odd mode and times' '
	mkfile big 41943041 &&
	chmod 640 big &&
	set_times big 1234567890 1234567000 &&
	mkdir -p rd ld &&
	chown "$TEST_USER:" rd
'

test_expect_success 'upload over 4 channels into a directory, -p' '
	expect_rc 0 scp_multi -v -p -X channels=4 big "ours:$TRASH/rd/" &&
	split_over 4 &&
	cmp big rd/big &&
	test_mode rd/big 640 &&
	test_mtime rd/big 1234567890 &&
	no_leftovers rd
'

test_expect_success 'upload over 4 channels to a new name, replacing' '
	mkfile old 100 && cp old rd/new && chown "$TEST_USER:" rd/new &&
	expect_rc 0 scp_multi -v -X channels=4 big "ours:$TRASH/rd/new" &&
	split_over 4 &&
	cmp big rd/new &&
	no_leftovers rd
'

test_expect_success 'download over 4 channels into a directory, -p' '
	expect_rc 0 scp_multi -v -p -X channels=4 "ours:$TRASH/big" ld/ &&
	split_over 4 &&
	cmp big ld/big &&
	test_mode ld/big 640 &&
	test_mtime ld/big 1234567890 &&
	no_leftovers ld
'

test_expect_success 'download over 3 channels to a new name' '
	expect_rc 0 scp_multi -v -X channels=3 "ours:$TRASH/big" ld/other &&
	split_over 3 &&
	cmp big ld/other &&
	no_leftovers ld
'

test_expect_success 'a file not a multiple of the block size, 2 channels' '
	mkfile odd 9437185 &&
	expect_rc 0 scp_multi -v -X channels=2 odd "ours:$TRASH/rd/odd" &&
	split_over 2 &&
	cmp odd rd/odd &&
	expect_rc 0 scp_multi -v -X channels=2 "ours:$TRASH/rd/odd" ld/odd &&
	split_over 2 &&
	cmp odd ld/odd
'

test_expect_success 'small files are never split' '
	mkfile small 100000 &&
	expect_rc 0 scp_multi -v -X channels=4 small "ours:$TRASH/rd/small" &&
	! grep -F "multi:" err &&
	cmp small rd/small
'

test_expect_success 'MaxSessions 2: 4 channels asked, 2 used, exit 0' '
	rm -f rd/big ld/big &&
	expect_rc 0 scp_multi -v -X channels=4 big "max2:$TRASH/rd/" &&
	split_over 2 &&
	cmp big rd/big &&
	expect_rc 0 scp_multi -v -X channels=4 "max2:$TRASH/big" ld/ &&
	split_over 2 &&
	cmp big ld/big &&
	no_leftovers rd && no_leftovers ld
'

test_expect_success 'MaxSessions 2 without -v: nothing on stderr' '
	rm -f rd/big &&
	expect_rc 0 scp_multi -X channels=4 big "max2:$TRASH/rd/" &&
	! grep -v "^+ scp" err &&
	cmp big rd/big
'

test_expect_success 'a read-only source: channels that cannot open the
    temporary file are left out, the copy still completes' '
	cp big ro && chmod 444 ro &&
	expect_rc 0 scp_multi -v -p -X channels=4 ro "ours:$TRASH/rd/ro" &&
	cmp big rd/ro &&
	test_mode rd/ro 444 &&
	no_leftovers rd
'

for bad in 0 9 abc -1 ""; do
	test_expect_success "-X channels=$bad is rejected" "
		expect_rc 255 scp_multi -X channels=$bad big \"ours:\$TRASH/rd/x\" &&
		grep_err 'Invalid number of channels' &&
		test ! -e rd/x
	"
done

for bad in 5 abc -1; do
	test_expect_success "-X connections=$bad is rejected" "
		expect_rc 255 scp_multi -X connections=$bad big \"ours:\$TRASH/rd/x\" &&
		grep_err 'Invalid number of connections' &&
		test ! -e rd/x
	"
done

test_expect_success 'channels plus an extra connection' '
	rm -f ld/big &&
	expect_rc 0 scp_multi -v -X channels=2 -X connections=1 \
	    "ours:$TRASH/big" ld/ &&
	split_over 3 &&
	cmp big ld/big &&
	no_leftovers ld
'

test_expect_success 'unwritable remote directory: one error, no temp file' '
	mkdir -p rd/locked && chown "$TEST_USER:" rd/locked &&
	chmod 555 rd/locked &&
	expect_rc 1 scp_multi -X channels=4 big "ours:$TRASH/rd/locked/" &&
	reported_once "rd/locked/big" &&
	no_leftovers rd/locked &&
	test ! -e rd/locked/big
'

test_expect_success 'unreadable remote file: one error, no temp file' '
	cp big secret && chmod 000 secret &&
	expect_rc 1 scp_multi -X channels=4 "ours:$TRASH/secret" ld/ &&
	reported_once "remote open" &&
	grep_err "Permission denied" &&
	no_leftovers ld &&
	test ! -e ld/secret
'

# The automatic choice needs a long round trip: bench/linkemu (built
# next to $SCP) delays every byte 10 ms each way.
LINKEMU=$(dirname "$SCP_REAL")/bench/linkemu
if [ -x "$LINKEMU" ]; then
	printf 'Host slow\n  ProxyCommand %s -d 10 -- /usr/sbin/sshd -i -f %s\n' \
	    "$LINKEMU" "$SCPTEST_RUNDIR/sshd_ours" >"$TRASH/ssh_slow"
	cat "$TRASH/ssh_multi" >>"$TRASH/ssh_slow"
	test_expect_success 'automatic: a 64 MiB file over a 20 ms link is
    split both ways, over loopback it is not' '
		mkfile big64 67108864 &&
		own_trash && mkdir -p "$TRASH/tmp" &&
		TMPDIR=$TRASH/tmp expect_rc 0 timeout -k 5 "$SCPTEST_TIMEOUT" \
		    "$SCP" -v -F "$TRASH/ssh_slow" big64 "slow:$TRASH/rd/a64" \
		    </dev/null &&
		auto_split 2 4 &&
		cmp big64 rd/a64 &&
		expect_rc 0 scp_multi -v big64 "ours:$TRASH/rd/b64" &&
		! grep -F "multi:" err &&
		cmp big64 rd/b64 &&
		TMPDIR=$TRASH/tmp expect_rc 0 timeout -k 5 "$SCPTEST_TIMEOUT" \
		    "$SCP" -v -F "$TRASH/ssh_slow" "slow:$TRASH/big64" ld/ \
		    </dev/null &&
		auto_split 2 4 &&
		cmp big64 ld/big64 &&
		rm -f ld/big64 &&
		expect_rc 0 scp_multi -v "ours:$TRASH/big64" ld/ &&
		! grep -F "multi:" err &&
		cmp big64 ld/big64 &&
		no_leftovers rd && no_leftovers ld
	'

	# The probe channel costs a round trip and a server process: a
	# download or a tree starts it only for a file worth splitting.
	test_expect_success 'automatic: small files over a 20 ms link start
    no probe channel, a 64 MiB download does' '
		own_trash && mkdir -p "$TRASH/tmp" ptree/d &&
		mkfile ptree/d/a 1000 && mkfile ptree/b 2000 &&
		rm -rf ld/ptree rd/ptree &&
		TMPDIR=$TRASH/tmp expect_rc 0 timeout -k 5 "$SCPTEST_TIMEOUT" \
		    "$SCP" -v -r -F "$TRASH/ssh_slow" "slow:$TRASH/ptree" ld/ \
		    </dev/null &&
		! grep -F "pool: probe" err &&
		diff -r ptree ld/ptree &&
		TMPDIR=$TRASH/tmp expect_rc 0 timeout -k 5 "$SCPTEST_TIMEOUT" \
		    "$SCP" -v -r -F "$TRASH/ssh_slow" ptree "slow:$TRASH/rd/" \
		    </dev/null &&
		! grep -F "pool: probe" err &&
		diff -r ptree rd/ptree &&
		TMPDIR=$TRASH/tmp expect_rc 0 timeout -k 5 "$SCPTEST_TIMEOUT" \
		    "$SCP" -v -F "$TRASH/ssh_slow" "slow:$TRASH/big64" ld/p64 \
		    </dev/null &&
		grep -F "pool: probe" err &&
		cmp big64 ld/p64 && rm -f ld/p64 &&
		no_leftovers rd && no_leftovers ld
	'

	test_expect_success 'automatic: a copy over before the background
    channels opened ends them quietly, both ways' '
		own_trash && mkdir -p "$TRASH/tmp" &&
		mkfile tiny 1000 &&
		TMPDIR=$TRASH/tmp expect_rc 0 timeout -k 5 "$SCPTEST_TIMEOUT" \
		    "$SCP" -F "$TRASH/ssh_slow" "slow:$TRASH/tiny" ld/tiny \
		    </dev/null &&
		! grep -v "^+ " err &&
		cmp tiny ld/tiny &&
		TMPDIR=$TRASH/tmp expect_rc 0 timeout -k 5 "$SCPTEST_TIMEOUT" \
		    "$SCP" -F "$TRASH/ssh_slow" tiny big64 "slow:$TRASH/rd/" \
		    </dev/null &&
		! grep -v "^+ " err &&
		cmp tiny rd/tiny && cmp big64 rd/big64 &&
		no_leftovers rd && no_leftovers ld
	'

	# An upload that names a big file starts its probe before the
	# master has logged in (it waits for the control socket), so the
	# channels open while the first session starts.  A login that fails
	# meanwhile must not leave the waiting probe hanging.
	test_expect_success 'automatic: a big upload starts its probe before
    the login ends; a failed login ends it at once' '
		own_trash && mkdir -p "$TRASH/tmp" &&
		rm -f rd/e64 &&
		TMPDIR=$TRASH/tmp expect_rc 0 timeout -k 5 "$SCPTEST_TIMEOUT" \
		    "$SCP" -v -F "$TRASH/ssh_slow" big64 "slow:$TRASH/rd/e64" \
		    </dev/null &&
		awk "/pool: probe channel/ { p = NR }
		    /^Authenticated to/ { a = NR }
		    END { exit !(p > 0 && a > p) }" err &&
		cmp big64 rd/e64 && rm -f rd/e64 &&
		TMPDIR=$TRASH/tmp expect_rc 255 timeout -k 5 30 \
		    "$SCP" -v -F "$TRASH/ssh_slow" -o User=scp-no-such-user \
		    big64 "slow:$TRASH/rd/e64" </dev/null &&
		grep -F "pool: probe" err &&
		test ! -e rd/e64 &&
		test -z "$(ls "$TRASH/tmp")" &&
		no_leftovers rd
	'

	# The channels open in the background while the first session
	# already copies; sshd refusing them (MaxSessions) must stay quiet.
	printf 'Host slowmax2\n  ProxyCommand %s -d 10 -- /usr/sbin/sshd -i -f %s\n' \
	    "$LINKEMU" "$TRASH/sshd_max2" >"$TRASH/ssh_slowmax2"
	cat "$TRASH/ssh_multi" >>"$TRASH/ssh_slowmax2"
	test_expect_success 'automatic with MaxSessions 2: split over 2, the
    refused channels say nothing, both ways' '
		own_trash && mkdir -p "$TRASH/tmp" &&
		rm -f rd/a64 ld/big64 &&
		TMPDIR=$TRASH/tmp expect_rc 0 timeout -k 5 "$SCPTEST_TIMEOUT" \
		    "$SCP" -F "$TRASH/ssh_slowmax2" big64 \
		    "slowmax2:$TRASH/rd/a64" </dev/null &&
		! grep -v "^+ " err &&
		cmp big64 rd/a64 &&
		TMPDIR=$TRASH/tmp expect_rc 0 timeout -k 5 "$SCPTEST_TIMEOUT" \
		    "$SCP" -v -F "$TRASH/ssh_slowmax2" \
		    "slowmax2:$TRASH/big64" ld/ </dev/null &&
		auto_split 2 2 &&
		cmp big64 ld/big64 &&
		no_leftovers rd && no_leftovers ld
	'
else
	test_skip 'automatic split on a long link' "no $LINKEMU"
fi

test_done
