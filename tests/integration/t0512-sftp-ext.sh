#!/bin/sh
# SFTP mode's use of OpenSSH extensions (PROTOCOL.md §4,
# docs/protocol-sftp.md "Extensions"): --fsync sends fsync@openssh.com
# on uploads (seen in sftp-server's own log through a -D wrapper) and
# fsync(2)s downloads before the rename; both ways over real ssh.
# -3 between two operands on one endpoint uses one session and copy-data
# (seen in the server log), and relays when the server refuses it.
. "$(dirname "$0")/lib.sh"

SRV=/usr/lib/openssh/sftp-server
WRAP=$TRASH/logged-sftp-server
cat >"$WRAP" <<EOW
#!/bin/sh
exec $SRV -e -l DEBUG3 2>>$TRASH/srv.log
EOW
chmod 755 "$WRAP"
NOCOPY=$TRASH/nocopy-sftp-server
cat >"$NOCOPY" <<EOW
#!/bin/sh
exec $SRV -e -l DEBUG3 -P copy-data 2>>$TRASH/srv.log
EOW
chmod 755 "$NOCOPY"

test_expect_success_ours '--fsync upload over ssh' '
	mkfile up1 100000 &&
	run_scp --fsync up1 ours:$TRASH/up1.copy &&
	cmp up1 up1.copy
'

test_expect_success_ours '--fsync download over ssh' '
	mkfile down1 70000 &&
	run_scp --fsync ours:$TRASH/down1 down1.copy &&
	cmp down1 down1.copy
'

test_expect_success_ours '--fsync -r both ways, -3 too' '
	mkdir -p tree/sub &&
	mkfile tree/a 1000 && mkfile tree/sub/b 40000 &&
	run_scp --fsync -r tree ours:$TRASH/tree.up &&
	run_scp --fsync -r ours:$TRASH/tree.up tree.down &&
	run_scp --fsync -3 ours:$TRASH/tree/a ours:$TRASH/a3 &&
	cmp tree/sub/b tree.up/sub/b && cmp tree/sub/b tree.down/sub/b &&
	cmp tree/a a3
'

test_expect_success_ours '--fsync sends fsync@openssh.com on uploads' '
	rm -f srv.log &&
	mkfile up2 5000 &&
	run_scp --fsync -D "$WRAP" up2 ours:$TRASH/up2.copy &&
	cmp up2 up2.copy &&
	grep -i "fsync" srv.log
'

test_expect_success_ours 'no fsync@openssh.com without --fsync' '
	rm -f srv.log &&
	run_scp -D "$WRAP" up2 ours:$TRASH/up3.copy &&
	cmp up2 up3.copy &&
	! grep -i "fsync" srv.log
'

test_expect_success_ours '--fsync download via -D' '
	run_scp --fsync -D "$WRAP" ours:$TRASH/up2 up2.down &&
	cmp up2 up2.down
'

test_expect_success_ours '-3 on one endpoint: copy-data, one session' '
	rm -f srv.log &&
	mkfile c1 300000 &&
	run_scp -3 -D "$WRAP" ours:$TRASH/c1 ours:$TRASH/c1.copy &&
	cmp c1 c1.copy &&
	grep "copy-data" srv.log &&
	test "$(grep -c "session opened" srv.log)" -eq 1
'

test_expect_success_ours '-3 -r on one endpoint with copy-data' '
	rm -f srv.log &&
	run_scp -3 -r -D "$WRAP" ours:$TRASH/tree ours:$TRASH/tree.cd &&
	cmp tree/sub/b tree.cd/sub/b && cmp tree/a tree.cd/a &&
	grep "copy-data" srv.log
'

test_expect_success_ours '-3 without copy-data offered: two sessions, relayed' '
	rm -f srv.log &&
	run_scp -3 -D "$NOCOPY" ours:$TRASH/c1 ours:$TRASH/c1.relay &&
	cmp c1 c1.relay &&
	test "$(grep -c "session opened" srv.log)" -eq 2
'

test_expect_success_ours '-3 on two endpoints: two sessions, relayed' '
	rm -f srv.log &&
	run_scp -3 -D "$WRAP" ours:$TRASH/c1 localhost:$TRASH/c1.two &&
	cmp c1 c1.two &&
	test "$(grep -c "session opened" srv.log)" -eq 2
'

test_done
