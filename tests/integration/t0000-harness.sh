#!/bin/sh
# The harness itself: both host aliases log in as scptest with the PATH
# that selects the remote scp.
. "$(dirname "$0")/lib.sh"

test_expect_success 'ssh to ours logs in as scptest' '
	test "$(remote id -un)" = scptest
'

test_expect_success 'remote scp on ours is the binary under test' '
	p=$(remote command -v scp) &&
	test "$(readlink -f "$p")" = "$(readlink -f "$SCP")"
'

test_expect_success 'remote scp on openssh is /usr/bin/scp' '
	p=$(timeout 60 ssh -F "$SSHCONF" openssh command -v scp </dev/null) &&
	test "$p" = /usr/bin/scp
'

test_expect_success 'scratch directory is writable by the remote user' '
	remote "touch $TRASH/remote-made" &&
	test "$(stat -c %U remote-made)" = scptest
'

test_done
