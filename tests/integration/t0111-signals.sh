#!/bin/sh
# Signals (PROTOCOL.md §1 "Exit status"): SIGTERM/SIGHUP kill the ssh
# children and exit 1.  The copies are slowed down with -l so the signal
# arrives mid-file.
. "$(dirname "$0")/lib.sh"

# sig_run SIG ARGS...: start scp ARGS in the background, send SIG after
# 2 s, and leave its exit status in $st.
sig_run () {
	_sig=$1
	shift
	own_trash
	"$SCP" -F "$SSHCONF" "$@" </dev/null >out 2>err &
	_pid=$!
	sleep 2
	kill -"$_sig" "$_pid"
	st=0
	wait "$_pid" || st=$?
	cat out err >&2
	echo "exit status $st" >&2
}

# no_leftover PATTERN: no process whose argv matches PATTERN after a
# grace period (the ssh child and the remote scp must be gone).
no_leftover () {
	for _i in 1 2 3 4 5 6 7 8 9 10; do
		if ! pgrep -f "$1" >/dev/null; then
			return 0
		fi
		sleep 1
	done
	echo "processes left:" >&2
	pgrep -af "$1" >&2
	return 1
}

test_expect_success 'setup' '
	mkfile big 4194304
'

test_expect_success 'SIGTERM during an upload: exit 1, no ssh left' '
	sig_run TERM -O -q -l 1000 big ours:$TRASH/sig-up1 &&
	test "$st" = 1 &&
	no_leftover "$TRASH/sig-up1"
'

test_expect_success 'SIGHUP during an upload: exit 1, no ssh left' '
	sig_run HUP -O -q -l 1000 big ours:$TRASH/sig-up2 &&
	test "$st" = 1 &&
	no_leftover "$TRASH/sig-up2"
'

test_expect_success 'SIGTERM during a download: exit 1, no ssh left' '
	sig_run TERM -O -q -l 1000 ours:$TRASH/big sig-down1 &&
	test "$st" = 1 &&
	no_leftover "$TRASH/big"
'

test_expect_success_ours 'SIGTERM during a download: nothing under the final name' '
	sig_run TERM -O -q -l 1000 ours:$TRASH/big sig-down2 &&
	test "$st" = 1 &&
	test ! -e sig-down2
'

test_done
