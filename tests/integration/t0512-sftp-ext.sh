#!/bin/sh
# SFTP mode's use of OpenSSH extensions (PROTOCOL.md §4,
# docs/protocol-sftp.md "Extensions"): --fsync sends fsync@openssh.com
# on uploads (seen in sftp-server's own log through a -D wrapper) and
# fsync(2)s downloads before the rename; both ways over real ssh.
. "$(dirname "$0")/lib.sh"

SRV=/usr/lib/openssh/sftp-server
WRAP=$TRASH/logged-sftp-server
cat >"$WRAP" <<EOW
#!/bin/sh
exec $SRV -e -l DEBUG3 2>>$TRASH/srv.log
EOW
chmod 755 "$WRAP"

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

test_done
