#!/bin/sh
# Interruptions and exit status (docs/SAFETY.md): a file that does not
# arrive is named, the exit status is non-zero, the partial stays under
# its temporary name and the final name is untouched; a size mismatch is
# an error in both protocols.  (A legacy download reads at the server's
# pace, ahead of -l by the ssh window: the shrinking file is bigger.)
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-resume.sh"

# kill_ssh_mid GLOB MIN ARGS...: as kill_mid, but kills the scp's ssh
# child (a dropped connection) and waits for the scp.
kill_ssh_mid () {
	_glob=$1 _min=$2
	shift 2
	own_trash
	"$SCP" -F "$SSHCONF" "$@" </dev/null >kill.out 2>kill.err &
	_pid=$!
	_i=0
	while [ $_i -lt 300 ]; do
		for _f in $_glob; do
			if [ -f "$_f" ] &&
			    [ "$(stat -c %s "$_f")" -ge "$_min" ]; then
				_c=$(pgrep -P $_pid -x ssh)
				[ -n "$_c" ] && kill -9 $_c
				_st=0
				wait $_pid || _st=$?
				cat kill.err >&2
				echo $_st >kill.rc
				return 0
			fi
		done
		sleep 0.1
		_i=$((_i + 1))
	done
	kill -9 $_pid
	wait $_pid
	return 1
}

test_expect_success 'setup' '
	mkfile big 1500000
'

for mode in "" -O; do
m=${mode:-sftp}

test_expect_success_ours "$m download, SIGTERM: named, non-zero, partial kept" "
	mkdir -p dt$mode && echo old >dt$mode/big &&
	kill_mid TERM 'dt$mode/.big.*scp-part' 100000 $mode -l 2000 ours:\$TRASH/big dt$mode/big &&
	test \"\$(cat kill.rc)\" -ne 0 && grep -F big kill.err &&
	test \"\$(cat dt$mode/big)\" = old &&
	test -n \"\$(find dt$mode -name '.big.*scp-part')\"
"

test_expect_success_ours "$m download, killed ssh: named, non-zero, partial kept" "
	mkdir -p dk$mode && echo old >dk$mode/big &&
	kill_ssh_mid 'dk$mode/.big.*scp-part' 100000 $mode -l 2000 ours:\$TRASH/big dk$mode/big &&
	test \"\$(cat kill.rc)\" -ne 0 && grep -F big kill.err &&
	test \"\$(cat dk$mode/big)\" = old &&
	test -n \"\$(find dk$mode -name '.big.*scp-part')\"
"

test_expect_success_ours "$m upload, SIGINT: named, non-zero, old content kept" "
	mkdir -p ui$mode && echo old >ui$mode/big &&
	kill_mid INT 'ui$mode/.big.*scp-part' 100000 $mode -l 2000 big ours:\$TRASH/ui$mode/big &&
	test \"\$(cat kill.rc)\" -ne 0 && grep -F big kill.err &&
	sleep 1 && test \"\$(cat ui$mode/big)\" = old
"

test_expect_success_ours "$m upload, killed ssh: named, non-zero, old content kept" "
	mkdir -p uk$mode && echo old >uk$mode/big &&
	kill_ssh_mid 'uk$mode/.big.*scp-part' 100000 $mode -l 2000 big ours:\$TRASH/uk$mode/big &&
	test \"\$(cat kill.rc)\" -ne 0 && grep -F big kill.err &&
	sleep 1 && test \"\$(cat uk$mode/big)\" = old
"

test_expect_success_ours "$m download of a source that shrinks: error, old kept" "
	mkfile shr$mode 6000000 && mkdir -p ds$mode && echo old >ds$mode/shr &&
	own_trash
	\"\$SCP\" -F \"\$SSHCONF\" $mode -l 6000 ours:\$TRASH/shr$mode ds$mode/shr \\
	    </dev/null >s.out 2>s.err &
	pid=\$!
	i=0; while [ \$i -lt 100 ] && [ -z \"\$(find ds$mode -name '.shr*')\" ]; do
		sleep 0.1; i=\$((i + 1)); done
	sleep 0.5
	truncate -s 300000 shr$mode
	st=0; wait \$pid || st=\$?
	cat s.err >&2
	test \$st -ne 0 && test \"\$(cat ds$mode/shr)\" = old
"

test_expect_success_ours "$m upload of a source that shrinks: error, old kept" "
	mkfile lshr$mode 1500000 && mkdir -p us$mode && echo old >us$mode/shr &&
	own_trash
	\"\$SCP\" -F \"\$SSHCONF\" $mode -l 2000 lshr$mode ours:\$TRASH/us$mode/shr \\
	    </dev/null >s.out 2>s.err &
	pid=\$!
	i=0; while [ \$i -lt 100 ] && [ -z \"\$(find us$mode -name '.shr*')\" ]; do
		sleep 0.1; i=\$((i + 1)); done
	sleep 0.5
	truncate -s 300000 lshr$mode
	st=0; wait \$pid || st=\$?
	cat s.err >&2
	test \$st -ne 0 && grep -F lshr s.err &&
	test \"\$(cat us$mode/shr)\" = old
"
done

# A full local disk: a small tmpfs (root only; skipped where mount fails).
if mkdir -p full && mount -t tmpfs -o size=300k tmpfs "$TRASH/full" 2>/dev/null
then
	test_expect_success_ours 'sftp download, full disk: named, non-zero, partial kept, no hole' '
		echo old >full/big &&
		expect_fail run_scp ours:$TRASH/big full/big &&
		grep_err "full/big" && grep_err "No space left" &&
		test "$(cat full/big)" = old &&
		p=$(find full -name ".big.*.scp-part") && test -n "$p" &&
		n=$(stat -c %s "$p") && test "$n" -gt 0 &&
		cmp -n "$n" big "$p" &&
		rm -f full/big "$p"
	'
	umount "$TRASH/full"
fi
if mkdir -p fullu && mount -t tmpfs -o size=300k tmpfs "$TRASH/fullu" 2>/dev/null
then
	chown "$TEST_USER:" "$TRASH/fullu"
	# The statvfs@openssh.com room check refuses a file that cannot fit
	# before any byte is sent; --resume skips that check (blocks already
	# there are reused), so it still exercises a disk filling mid-file.
	test_expect_success_ours 'sftp upload, no room: refused early, old content kept, no partial' '
		echo old >fullu/big &&
		expect_fail run_scp big ours:$TRASH/fullu/big &&
		grep_err "fullu/big" && grep_err "No space left" &&
		test "$(cat fullu/big)" = old &&
		test -z "$(find fullu -name ".big.*.scp-part")"
	'
	test_expect_success_ours 'sftp upload, full disk mid-file: named, non-zero, partial kept, no hole' '
		echo old >fullu/big &&
		expect_fail run_scp --resume big ours:$TRASH/fullu/big &&
		grep_err "fullu/big" &&
		test "$(cat fullu/big)" = old &&
		p=$(find fullu -name ".big.*.scp-part") && test -n "$p" &&
		n=$(stat -c %s "$p") && test "$n" -gt 0 &&
		cmp -n "$n" big "$p" && grep_err "partial data kept" &&
		rm -f fullu/big "$p"
	'
	umount "$TRASH/fullu"
fi

test_done
