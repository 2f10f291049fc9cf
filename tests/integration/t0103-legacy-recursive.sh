#!/bin/sh
# Legacy -r and -rp: D/E records, empty directories, nesting (PROTOCOL.md
# §2 source step 5, sink "D").
. "$(dirname "$0")/lib.sh"

test_expect_success 'setup a tree' '
	mktree tree &&
	chmod 0700 tree/sub/deeper && chmod 0750 tree/sub &&
	chmod 0600 tree/b && chmod 0755 tree/sub/c &&
	set_times tree/a 1000000000 1000000001 &&
	set_times tree/sub/deeper/d 1200000000 1200000000 &&
	set_times tree/sub/deeper 1300000000 1300000000 &&
	set_times tree/empty 1400000000 1400000000 &&
	set_times tree 1500000000 1500000000
'

test_expect_success '-r upload to a new name copies the whole tree' '
	run_scp -O -r tree ours:$TRASH/up1 &&
	same_tree tree up1 &&
	test -d up1/empty && test -d up1/sub/emptytoo
'

test_expect_success '-r upload into an existing directory nests it' '
	mkdir -p up2 &&
	run_scp -O -r tree ours:$TRASH/up2 &&
	same_tree tree up2/tree
'

test_expect_success '-r download to a new name' '
	run_scp -O -r ours:$TRASH/tree down1 &&
	same_tree tree down1 &&
	test -d down1/empty && test -d down1/sub/emptytoo
'

test_expect_success '-r download into an existing directory nests it' '
	mkdir -p down2 &&
	run_scp -O -r ours:$TRASH/tree down2 &&
	same_tree tree down2/tree
'

test_expect_success '-rp upload keeps modes and mtimes of files and dirs' '
	run_scp -O -rp tree ours:$TRASH/up3 &&
	same_tree tree up3 &&
	same_modes tree up3 &&
	same_mtimes tree up3 dirs
'

test_expect_success '-rp download keeps modes and mtimes of files and dirs' '
	run_scp -O -rp ours:$TRASH/tree down3 &&
	same_tree tree down3 &&
	same_modes tree down3 &&
	same_mtimes tree down3 dirs
'

test_expect_success '-r with several sources (file and dir) into a dir' '
	mkdir -p multi && mkfile single 300 &&
	run_scp -O -r single tree ours:$TRASH/multi &&
	cmp single multi/single && same_tree tree multi/tree
'

test_expect_success '-r of a single empty directory' '
	mkdir -p lonely &&
	run_scp -O -r lonely ours:$TRASH/lonely.up &&
	test -d lonely.up && test -z "$(ls -A lonely.up)" &&
	run_scp -O -r ours:$TRASH/lonely lonely.down &&
	test -d lonely.down && test -z "$(ls -A lonely.down)"
'

test_expect_success '-r follows a symlink to a file' '
	mkdir -p withlink && mkfile withlink/real 50 &&
	ln -s real withlink/link &&
	run_scp -O -r withlink ours:$TRASH/withlink.up &&
	test -f withlink.up/link && test ! -L withlink.up/link &&
	cmp withlink/real withlink.up/link
'

test_expect_success 'a directory without -r is an error (exit 1)' '
	expect_rc 1 run_scp -O tree ours:$TRASH/nor &&
	grep_err "not a regular file" &&
	test ! -e nor
'

test_expect_success 'download of a directory without -r is an error' '
	expect_rc 1 run_scp -O ours:$TRASH/tree nor2 &&
	grep_err "not a regular file" &&
	test ! -e nor2
'

test_done
