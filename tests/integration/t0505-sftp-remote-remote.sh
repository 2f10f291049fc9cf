#!/bin/sh
# SFTP remote to remote (-3 relay, PROTOCOL.md §4 "Remote→remote"): the
# destination connection once, one origin connection per operand.
. "$(dirname "$0")/lib.sh"

test_expect_success '-3 file between two aliases' '
	mkfile src 100000 &&
	run_scp -3 ours:$TRASH/src openssh:$TRASH/dst3 &&
	cmp src dst3
'

test_expect_success '-3 is the default for two remote operands' '
	run_scp ours:$TRASH/src openssh:$TRASH/dstdef &&
	cmp src dstdef
'

test_expect_success '-3 into an existing remote directory' '
	mkdir -p d3 &&
	run_scp -3 ours:$TRASH/src ours:$TRASH/d3 &&
	cmp src d3/src
'

test_expect_success '-3 several sources into a remote directory' '
	mkdir -p d3m && mkfile s2 10 && : >s3 &&
	run_scp -3 ours:$TRASH/src openssh:$TRASH/s2 ours:$TRASH/s3 \
	    openssh:$TRASH/d3m &&
	cmp src d3m/src && cmp s2 d3m/s2 && cmp s3 d3m/s3
'

test_expect_success '-3 a remote glob into a remote directory' '
	mkdir -p d3g &&
	run_scp -3 "ours:$TRASH/s[23]" openssh:$TRASH/d3g &&
	cmp s2 d3g/s2 && cmp s3 d3g/s3 && test ! -e d3g/src
'

test_expect_success '-3 -r tree' '
	mktree tree &&
	run_scp -3 -r ours:$TRASH/tree ours:$TRASH/tree3 &&
	same_tree tree tree3
'

test_expect_success '-3 -p keeps mode and mtime' '
	mkfile p 10 && own_trash && chmod 0640 p &&
	set_times p 1234567890 1234567890 &&
	run_scp -3 -p ours:$TRASH/p ours:$TRASH/p3 &&
	test_mode p3 640 && test_mtime p3 1234567890 && cmp p p3
'

test_expect_success '-3 -rp keeps modes and mtimes' '
	chmod 0750 tree/sub && set_times tree/sub 1300000000 1300000000 &&
	own_trash &&
	run_scp -3 -rp ours:$TRASH/tree ours:$TRASH/tree3p &&
	same_tree tree tree3p && same_modes tree tree3p &&
	same_mtimes tree tree3p
'

test_expect_success '-3 over a longer existing file truncates it' '
	mkfile long 100000 && cp long over3 &&
	run_scp -3 ours:$TRASH/s2 ours:$TRASH/over3 &&
	cmp s2 over3
'

test_expect_success '-3 with user@host on both sides' '
	run_scp -3 scptest@ours:$TRASH/src scptest@openssh:$TRASH/dst3u &&
	cmp src dst3u
'

test_expect_success '-3 missing source fails with exit 1' '
	expect_rc 1 run_scp -3 ours:$TRASH/nosuch ours:$TRASH/never &&
	grep_err "No such file or directory" &&
	test ! -e never
'

test_expect_success '-3 missing source does not stop the next one' '
	mkdir -p d3c &&
	expect_rc 1 run_scp -3 ours:$TRASH/nosuch ours:$TRASH/s2 ours:$TRASH/d3c &&
	cmp s2 d3c/s2
'

test_done
