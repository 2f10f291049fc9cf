#!/bin/sh
# SFTP mode -r and -rp (PROTOCOL.md §4 "Upload" / "Download" -r), the
# legacy t0103 cases without -O, plus the OpenSSH 9.2 weaknesses of §6
# that we fix (marked test_expect_success_ours).
. "$(dirname "$0")/lib.sh"

SFTPSERVER=/usr/lib/openssh/sftp-server

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
	run_scp -r tree ours:$TRASH/up1 &&
	same_tree tree up1 &&
	test -d up1/empty && test -d up1/sub/emptytoo
'

test_expect_success '-r upload into an existing directory nests it' '
	mkdir -p up2 &&
	run_scp -r tree ours:$TRASH/up2 &&
	same_tree tree up2/tree
'

test_expect_success '-r download to a new name' '
	run_scp -r ours:$TRASH/tree down1 &&
	same_tree tree down1 &&
	test -d down1/empty && test -d down1/sub/emptytoo
'

test_expect_success '-r download into an existing directory nests it' '
	mkdir -p down2 &&
	run_scp -r ours:$TRASH/tree down2 &&
	same_tree tree down2/tree
'

test_expect_success '-rp upload keeps modes and mtimes of files and dirs' '
	run_scp -rp tree ours:$TRASH/up3 &&
	same_tree tree up3 &&
	same_modes tree up3 &&
	same_mtimes tree up3 dirs
'

test_expect_success '-rp download keeps modes and mtimes of files and dirs' '
	run_scp -rp ours:$TRASH/tree down3 &&
	same_tree tree down3 &&
	same_modes tree down3 &&
	same_mtimes tree down3 dirs
'

# §6: OpenSSH 9.2 only chmods a downloaded dir if its mode lacked u+wx,
# so a mode masked by the umask is not restored.
test_expect_success_ours '-rp download restores dir modes exactly (0777, 0705)' '
	mkdir -p wide/w705 && mkfile wide/f 10 &&
	own_trash && chmod 0777 wide && chmod 0705 wide/w705 &&
	(umask 022 && run_scp -rp ours:$TRASH/wide wide.dl) &&
	test_mode wide.dl 777 && test_mode wide.dl/w705 705
'

test_expect_success_ours '-rp upload restores dir modes exactly (0777, 0705)' '
	run_scp -rp wide ours:$TRASH/wide.up &&
	test_mode wide.up 777 && test_mode wide.up/w705 705
'

test_expect_success '-r with several sources (file and dir) into a dir' '
	mkdir -p multi && mkfile single 300 &&
	run_scp -r single tree ours:$TRASH/multi &&
	cmp single multi/single && same_tree tree multi/tree
'

test_expect_success '-r of a single empty directory' '
	mkdir -p lonely &&
	run_scp -r lonely ours:$TRASH/lonely.up &&
	test -d lonely.up && test -z "$(ls -A lonely.up)" &&
	run_scp -r ours:$TRASH/lonely lonely.down &&
	test -d lonely.down && test -z "$(ls -A lonely.down)"
'

test_expect_success '-r follows a symlink to a file (both ways)' '
	mkdir -p withlink && mkfile withlink/real 50 &&
	ln -s real withlink/link &&
	run_scp -r withlink ours:$TRASH/withlink.up &&
	test -f withlink.up/link && test ! -L withlink.up/link &&
	cmp withlink/real withlink.up/link &&
	run_scp -r ours:$TRASH/withlink withlink.dl &&
	test -f withlink.dl/link && test ! -L withlink.dl/link &&
	cmp withlink/real withlink.dl/link
'

# §6: 9.2 fails on symlinked directories (fixed in 9.5).
test_expect_success_ours '-r follows a symlink to a directory (upload)' '
	mkdir -p sld && mktree sldtarget && ln -s ../sldtarget sld/linked &&
	run_scp -r sld ours:$TRASH/sld.up &&
	test -d sld.up/linked && test ! -L sld.up/linked &&
	same_tree sldtarget sld.up/linked
'

test_expect_success_ours '-r follows a symlink to a directory (download)' '
	run_scp -r ours:$TRASH/sld sld.dl &&
	test -d sld.dl/linked && test ! -L sld.dl/linked &&
	same_tree sldtarget sld.dl/linked
'

test_expect_success 'a directory without -r is an error (exit 1)' '
	expect_rc 1 run_scp tree ours:$TRASH/nor &&
	grep_err "not a regular file" &&
	test ! -e nor
'

test_expect_success 'download of a directory without -r is an error' '
	expect_rc 1 run_scp ours:$TRASH/tree nor2 &&
	grep_err "not a regular file" &&
	test ! -e nor2
'

# §6: 9.x SETSTATs every uploaded dir, clobbering an existing one's mode.
test_expect_success_ours '-r upload into an existing dir keeps its mode' '
	mkdir -p keep/tree && own_trash && chmod 0700 keep/tree &&
	chmod 0755 tree &&
	run_scp -r tree ours:$TRASH/keep &&
	test_mode keep/tree 700 && same_tree tree keep/tree
'

test_expect_success '-r download into an existing dir keeps its mode' '
	mkdir -p keepd/tree && chmod 0700 keepd/tree &&
	run_scp -r ours:$TRASH/tree keepd &&
	test_mode keepd/tree 700 && same_tree tree keepd/tree
'

test_expect_success '-rp does change an existing dir to the source mode' '
	mkdir -p keepp/tree && own_trash && chmod 0700 keepp/tree &&
	run_scp -rp tree ours:$TRASH/keepp &&
	test_mode keepp/tree 755
'

# §6, §8 (bz3871, OpenSSH 10.3): a source whose last component is ".."
# is copied as ".": "-r DIR/sub/.. ex" puts DIR's contents into ex, as
# cp -r does, and nothing is written beside the target.
test_expect_success '-r upload of DIR/sub/.. copies the contents of DIR' '
	sentinel dd.side &&
	run_scp -r tree/sub/.. ours:$TRASH/dd.side/target &&
	same_tree tree dd.side/target &&
	check_sentinel dd.side &&
	mkdir -p dd.side2/target && : >dd.side2/.marker &&
	run_scp -r tree/sub/.. ours:$TRASH/dd.side2/target &&
	check_sentinel dd.side2 &&
	same_tree tree dd.side2/target
'

test_expect_success '-r download of DIR/sub/.. copies the contents of DIR' '
	sentinel ddl.side && mkdir -p ddl.side/target &&
	run_scp -r ours:$TRASH/tree/sub/.. ddl.side/target &&
	check_sentinel ddl.side &&
	same_tree tree ddl.side/target &&
	run_scp -r ours:$TRASH/tree/sub/.. ddl.new &&
	same_tree tree ddl.new
'

test_expect_success '-3 -r of DIR/sub/.. copies the contents of DIR' '
	sentinel dd3.side && mkdir -p dd3.side/target &&
	run_scp -3 -r ours:$TRASH/tree/sub/.. ours:$TRASH/dd3.side/target &&
	check_sentinel dd3.side &&
	same_tree tree dd3.side/target
'

# The same for DIR/. (basename "." in OpenSSH's source_sftp/sink_sftp).
test_expect_success '-r of DIR/. copies the contents of DIR, both ways' '
	mkdir -p dot.up dot.dl &&
	run_scp -r tree/. ours:$TRASH/dot.up &&
	same_tree tree dot.up &&
	run_scp -r ours:$TRASH/tree/. dot.dl &&
	same_tree tree dot.dl
'

test_expect_success '-D sftp-server: -rp both ways' '
	run_scp -D $SFTPSERVER -rp tree host:$TRASH/dtree.up &&
	same_tree tree dtree.up && same_modes tree dtree.up &&
	run_scp -D $SFTPSERVER -rp host:$TRASH/tree dtree.dl &&
	same_tree tree dtree.dl && same_modes tree dtree.dl &&
	same_mtimes tree dtree.dl dirs
'

test_done
