#!/bin/sh
# The default protocol is SFTP (PROTOCOL.md §1 -s, §6 "9.0 SFTP
# default"): against a server whose PATH holds no scp at all, a plain
# `scp file host:` and `scp host:file .` still work; only -O needs a
# remote scp.  Own sshd_config/ssh_config, the run's keys.
. "$(dirname "$0")/lib.sh"

RD=$SCPTEST_RUNDIR
NOSCP_SSHD=$TRASH/sshd_noscp
NOSCP_SSH=$TRASH/ssh_config_noscp

test_expect_success 'setup a server without scp in its PATH' '
	mkdir -p emptybin && chmod 0755 emptybin &&
	sed "s#^SetEnv PATH=.*#SetEnv PATH=$TRASH/emptybin#" \
	    "$RD/sshd_openssh" >"$NOSCP_SSHD" &&
	grep -q "^SetEnv PATH=$TRASH/emptybin\$" "$NOSCP_SSHD" &&
	cat >"$NOSCP_SSH" <<-CONF &&
	Host noscp
	  ProxyCommand /usr/sbin/sshd -i -f $NOSCP_SSHD
	  User $TEST_USER
	  IdentityFile $RD/keys/client
	  IdentitiesOnly yes
	  StrictHostKeyChecking no
	  UserKnownHostsFile /dev/null
	  LogLevel ERROR
	  BatchMode yes
	CONF
	chmod 0644 "$NOSCP_SSHD" "$NOSCP_SSH" &&
	mkfile f 12345 && mktree tree
'

# run_noscp ARGS...: the binary under test with the no-scp config.
run_noscp () {
	own_trash
	echo "+ scp -F ssh_config_noscp $*" >&2
	timeout -k 5 "$SCPTEST_TIMEOUT" "$SCP" -F "$NOSCP_SSH" "$@" </dev/null
}

test_expect_success 'the remote really has no scp (-O fails)' '
	expect_fail run_noscp -O f noscp:$TRASH/legacy &&
	test ! -e legacy &&
	! timeout 30 ssh -F "$NOSCP_SSH" noscp "command -v scp" </dev/null
'

test_expect_success 'scp file host: (home) works' '
	n=t0510-$$ && cp f $n &&
	run_noscp $n noscp: &&
	cmp f "$TEST_HOME/$n" &&
	rm -f "$TEST_HOME/$n"
'

test_expect_success 'scp file host:path works' '
	run_noscp f noscp:$TRASH/up &&
	cmp f up
'

test_expect_success 'scp host:file . works' '
	mkdir -p down && (cd down && run_noscp noscp:$TRASH/f .) &&
	cmp f down/f
'

test_expect_success '-r both ways and -3 relay work' '
	run_noscp -r tree noscp:$TRASH/tree.up &&
	same_tree tree tree.up &&
	run_noscp -r noscp:$TRASH/tree tree.down &&
	same_tree tree tree.down &&
	run_noscp -3 noscp:$TRASH/f noscp:$TRASH/relayed &&
	cmp f relayed
'

test_done
