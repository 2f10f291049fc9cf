#!/bin/sh
# Server mode: OpenSSH's own scp -O as the client, the binary under test
# as the remote `scp -t` / `scp -f` (host `ours`).  PROTOCOL.md §2.
. "$(dirname "$0")/lib.sh"

test_expect_success 'setup' '
	mkfile f 100000 && : >zero &&
	mktree tree &&
	chmod 0700 tree/sub/deeper && chmod 0600 tree/b && chmod 0755 tree/a &&
	set_times tree/a 1000000000 1000000001 &&
	set_times tree/sub 1300000000 1300000000 &&
	set_times tree 1500000000 1500000000
'

test_expect_success 'remote -t: file upload' '
	run_ref_scp -O f ours:$TRASH/up1 &&
	cmp f up1
'

test_expect_success 'remote -t: zero-length and several files into a dir' '
	mkdir -p up2 &&
	run_ref_scp -O f zero ours:$TRASH/up2 &&
	cmp f up2/f && test -f up2/zero && test ! -s up2/zero
'

test_expect_success 'remote -t -d: several files, target not a dir fails' '
	expect_rc 1 run_ref_scp -O f zero ours:$TRASH/up1 &&
	cmp f up1
'

test_expect_success 'remote -t: -r -p tree' '
	run_ref_scp -O -r -p tree ours:$TRASH/up3 &&
	same_tree tree up3 && same_modes tree up3 && same_mtimes tree up3 dirs
'

test_expect_success 'remote -t: -r into an existing dir' '
	mkdir -p up4 &&
	run_ref_scp -O -r tree ours:$TRASH/up4 &&
	same_tree tree up4/tree
'

test_expect_success 'remote -t: missing target dir reports the remote error' '
	expect_rc 1 run_ref_scp -O f ours:$TRASH/nodir/x &&
	grep_err "No such file or directory" && test ! -e nodir
'

test_expect_success 'remote -f: file download' '
	run_ref_scp -O ours:$TRASH/f down1 &&
	cmp f down1
'

test_expect_success 'remote -f: -p keeps times and mode' '
	own_trash && chmod 0640 f && set_times f 1111111111 1111111112 &&
	run_ref_scp -O -p ours:$TRASH/f down2 &&
	test_atime down2 1111111112 && test_mtime down2 1111111111 &&
	test_mode down2 640 && cmp f down2
'

test_expect_success 'remote -f: -r -p tree' '
	run_ref_scp -O -r -p ours:$TRASH/tree down3 &&
	same_tree tree down3 && same_modes tree down3 &&
	same_mtimes tree down3 dirs
'

test_expect_success 'remote -f: glob of files and dirs (dirs refused)' '
	mkdir -p down4 &&
	expect_rc 1 run_ref_scp -O "ours:$TRASH/tree/*" down4 &&
	grep_err "not a regular file" &&
	cmp tree/a down4/a && cmp tree/b down4/b && cmp tree/zero down4/zero
'

test_expect_success 'remote -f: missing source reports the remote error' '
	expect_rc 1 run_ref_scp -O ours:$TRASH/nosuch down5 &&
	grep_err "scp: $TRASH/nosuch: No such file or directory" &&
	test ! -e down5
'

test_expect_success 'remote -f: directory without -r is refused' '
	expect_rc 1 run_ref_scp -O ours:$TRASH/tree down6 &&
	grep_err "not a regular file" && test ! -e down6
'

test_expect_success 'remote -f: 20 MB file' '
	mkfile big 20971520 &&
	run_ref_scp -O ours:$TRASH/big big.down &&
	run_ref_scp -O big ours:$TRASH/big.up &&
	cmp big big.down && cmp big big.up
'

test_expect_success 'remote-to-remote -3 with ours on both ends' '
	run_ref_scp -O -3 -r ours:$TRASH/tree ours:$TRASH/tree3 &&
	same_tree tree tree3
'

test_done
