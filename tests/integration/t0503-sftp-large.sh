#!/bin/sh
# A 200 MB file both ways in SFTP mode (pipelined READ/WRITE, PROTOCOL.md
# §4), with the real sshd and with a local sftp-server (-D).
. "$(dirname "$0")/lib.sh"

SCPTEST_TIMEOUT=600
SFTPSERVER=/usr/lib/openssh/sftp-server

test_expect_success 'setup 200 MB file' '
	mkfile big 209715200 &&
	test "$(stat -c %s big)" = 209715200
'

test_expect_success 'upload 200 MB' '
	run_scp -q big ours:$TRASH/big.up &&
	cmp big big.up
'

test_expect_success 'download 200 MB' '
	run_scp -q ours:$TRASH/big big.down &&
	cmp big big.down
'

test_expect_success '-3 relay of 200 MB' '
	run_scp -3 -q ours:$TRASH/big openssh:$TRASH/big.relay &&
	cmp big big.relay
'

test_expect_success 'sizes not a multiple of any block size' '
	mkfile odd 16777217 &&
	run_scp -q odd ours:$TRASH/odd.up &&
	run_scp -q ours:$TRASH/odd odd.down &&
	cmp odd odd.up && cmp odd odd.down
'

test_expect_success '-D sftp-server: 200 MB up and down' '
	rm -f big.up big.down &&
	run_scp -q -D $SFTPSERVER big host:$TRASH/big.up &&
	cmp big big.up &&
	run_scp -q -D $SFTPSERVER host:$TRASH/big big.down &&
	cmp big big.down
'

test_done
