#!/bin/sh
# Remote to remote (PROTOCOL.md §1 "Modes", §3): -3 relays through this
# host (the default), -R runs scp on the origin host, which then reaches
# the second host with scptest's own ssh config.  Both "hosts" are the
# same loopback sshd under two aliases.
. "$(dirname "$0")/lib.sh"

test_expect_success '-3 file between two aliases' '
	mkfile src 100000 &&
	run_scp -O -3 ours:$TRASH/src openssh:$TRASH/dst3 &&
	cmp src dst3
'

test_expect_success '-3 into an existing remote directory' '
	mkdir -p d3 &&
	run_scp -O -3 ours:$TRASH/src ours:$TRASH/d3 &&
	cmp src d3/src
'

test_expect_success '-3 -r tree' '
	mktree tree &&
	run_scp -O -3 -r ours:$TRASH/tree ours:$TRASH/tree3 &&
	same_tree tree tree3
'

test_expect_success '-3 -p keeps mode and mtime' '
	mkfile p 10 && own_trash && chmod 0640 p &&
	set_times p 1234567890 1234567890 &&
	run_scp -O -3 -p ours:$TRASH/p ours:$TRASH/p3 &&
	test_mode p3 640 && test_mtime p3 1234567890 && cmp p p3
'

test_expect_success '-3 with user@host on both sides' '
	run_scp -O -3 scptest@ours:$TRASH/src scptest@openssh:$TRASH/dst3u &&
	cmp src dst3u
'

test_expect_success '-3 missing source fails with exit 1' '
	expect_rc 1 run_scp -O -3 ours:$TRASH/nosuch ours:$TRASH/never &&
	test ! -e never
'

# -R: the remote scp reads ~scptest/.ssh/config; give it our aliases.
# Only this script touches that directory.
SSHDIR=$TEST_HOME/.ssh
cleanup_sshdir () {
	if [ -f "$SSHDIR/.scptest-made" ]; then
		rm -rf "$SSHDIR"
	fi
}
trap cleanup_sshdir EXIT

test_expect_success 'setup scptest ssh config for -R' '
	test ! -e "$SSHDIR" || test -f "$SSHDIR/.scptest-made" &&
	mkdir -p "$SSHDIR" && : >"$SSHDIR/.scptest-made" &&
	echo "Include $SCPTEST_RUNDIR/ssh_config_user" >"$SSHDIR/config" &&
	chown -R scptest: "$SSHDIR" && chmod 0700 "$SSHDIR" &&
	chmod 0644 "$SSHDIR/config"
'

test_expect_success '-R file between two aliases' '
	run_scp -O -R ours:$TRASH/src openssh:$TRASH/dstR &&
	cmp src dstR
'

test_expect_success '-R -r tree' '
	run_scp -O -R -r ours:$TRASH/tree ours:$TRASH/treeR &&
	same_tree tree treeR
'

test_expect_success '-R with a target user' '
	run_scp -O -R ours:$TRASH/src scptest@ours:$TRASH/dstRu &&
	cmp src dstRu
'

test_expect_success '-R with a target port other than 22 is refused' '
	expect_rc 255 run_scp -O -R ours:$TRASH/src scp://ours:2222/$TRASH/no &&
	grep_err "target port not supported" &&
	test ! -e no
'

test_expect_success '-R missing source fails' '
	expect_fail run_scp -O -R ours:$TRASH/nosuch ours:$TRASH/neverR &&
	test ! -e neverR
'

test_expect_success 'cleanup scptest ssh config' '
	cleanup_sshdir && test ! -e "$SSHDIR"
'

test_done
