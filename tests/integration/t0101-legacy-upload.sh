#!/bin/sh
# Legacy protocol (-O) uploads: PROTOCOL.md §2 (source side is ours, sink
# is the remote scp -t on host `ours`).
. "$(dirname "$0")/lib.sh"

test_expect_success 'upload one file to a new name' '
	mkfile src 33333 &&
	run_scp -O src ours:$TRASH/dst &&
	cmp src dst
'

test_expect_success 'upload into an existing directory keeps the name' '
	mkdir -p into &&
	run_scp -O src ours:$TRASH/into &&
	cmp src into/src
'

test_expect_success 'upload over a longer existing file truncates it' '
	mkfile long 100000 &&
	mkfile short 10 &&
	cp long over &&
	run_scp -O short ours:$TRASH/over &&
	cmp short over
'

test_expect_success 'upload a zero-length file' '
	: >empty &&
	run_scp -O empty ours:$TRASH/empty.out &&
	test -f empty.out && test ! -s empty.out
'

test_expect_success 'several sources into a directory' '
	mkdir -p many &&
	mkfile m1 1 && mkfile m2 4096 && mkfile m3 65537 && : >m4 &&
	run_scp -O m1 m2 m3 m4 ours:$TRASH/many/ &&
	cmp m1 many/m1 && cmp m2 many/m2 && cmp m3 many/m3 && cmp m4 many/m4
'

test_expect_success 'several sources, target not a directory: error, exit 1' '
	expect_rc 1 run_scp -O m1 m2 ours:$TRASH/m1-not-dir-target &&
	test ! -e m1-not-dir-target
'

test_expect_success '-p keeps mtime, atime and mode 0755' '
	mkfile px 5000 && chmod 0755 px &&
	set_times px 1000000000 1100000000 &&
	run_scp -O -p px ours:$TRASH/px.out &&
	test_atime px.out 1100000000 &&
	test_mtime px.out 1000000000 &&
	test_mode px.out 755 &&
	cmp px px.out
'

test_expect_success '-p keeps mode 0600 and an old mtime' '
	mkfile p6 100 && chmod 0600 p6 &&
	set_times p6 86400 172800 &&
	run_scp -O -p p6 ours:$TRASH/p6.out &&
	test_mode p6.out 600 &&
	test_mtime p6.out 86400 &&
	test_atime p6.out 172800
'

test_expect_success '-p applies mode and times to an existing target' '
	mkfile pe 100 && chmod 0640 pe && set_times pe 123456789 123456789 &&
	mkfile pe.out 5 && chmod 0666 pe.out &&
	run_scp -O -p pe ours:$TRASH/pe.out &&
	cmp pe pe.out &&
	test_mode pe.out 640 &&
	test_mtime pe.out 123456789
'

test_expect_success 'without -p a new file gets mode & ~umask, fresh mtime' '
	mkfile np 100 && chmod 0777 np && set_times np 1000 1000 &&
	run_scp -O np ours:$TRASH/np.out &&
	test_mode np.out 755 &&
	test "$(stat -c %Y np.out)" -gt 1000
'

test_expect_success 'setuid bit is not kept without -p' '
	mkfile su 10 &&
	own_trash && chmod 4755 su &&
	run_scp -O su ours:$TRASH/su.out &&
	test_mode su.out 755
'

test_expect_success 'upload to the remote home (empty path)' '
	n=t0101-home-$$ &&
	mkfile $n 777 &&
	run_scp -O $n ours: &&
	cmp $n "$TEST_HOME/$n" &&
	rm -f "$TEST_HOME/$n"
'

test_expect_success 'upload to a relative remote path (home-relative)' '
	n=t0101-rel-$$ &&
	run_scp -O src ours:$n &&
	cmp src "$TEST_HOME/$n" &&
	rm -f "$TEST_HOME/$n"
'

test_done
