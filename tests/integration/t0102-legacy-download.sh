#!/bin/sh
# Legacy protocol (-O) downloads: PROTOCOL.md §2 (our sink, remote scp -f
# on host `ours`).
. "$(dirname "$0")/lib.sh"

test_expect_success 'download one file to a new name' '
	mkfile src 33333 &&
	run_scp -O ours:$TRASH/src dst &&
	cmp src dst
'

test_expect_success 'download into an existing directory keeps the name' '
	mkdir -p into &&
	run_scp -O ours:$TRASH/src into &&
	cmp src into/src
'

test_expect_success 'download into "." ' '
	mkdir -p dot && mkfile dotsrc 5 &&
	(cd dot && run_scp -O ours:$TRASH/dotsrc .) &&
	cmp dotsrc dot/dotsrc
'

test_expect_success 'download over a longer existing file truncates it' '
	mkfile long 100000 && mkfile short 10 && cp long over &&
	run_scp -O ours:$TRASH/short over &&
	cmp short over
'

test_expect_success 'download a zero-length file' '
	: >empty &&
	run_scp -O ours:$TRASH/empty empty.out &&
	test -f empty.out && test ! -s empty.out
'

test_expect_success 'several remote sources into a local directory' '
	mkdir -p many &&
	mkfile m1 1 && mkfile m2 4096 && mkfile m3 65537 &&
	run_scp -O ours:$TRASH/m1 ours:$TRASH/m2 ours:$TRASH/m3 many &&
	cmp m1 many/m1 && cmp m2 many/m2 && cmp m3 many/m3
'

test_expect_success 'remote glob expands on the remote side' '
	mkdir -p g glob.out && mkfile g/x1.txt 10 && mkfile g/x2.txt 20 &&
	mkfile g/y.dat 30 &&
	run_scp -O "ours:$TRASH/g/*.txt" glob.out &&
	cmp g/x1.txt glob.out/x1.txt && cmp g/x2.txt glob.out/x2.txt &&
	test ! -e glob.out/y.dat
'

# The remote shell is dash (no brace expansion), so only a bracket
# pattern here; the client's brace matching is unit-tested.
test_expect_success 'remote bracket pattern passes the filename check' '
	mkdir -p brack.out &&
	run_scp -O "ours:$TRASH/g/[xy]*" brack.out &&
	cmp g/x1.txt brack.out/x1.txt && cmp g/y.dat brack.out/y.dat
'

test_expect_success '-p keeps mtime, atime and mode 0755' '
	mkfile px 5000 && own_trash && chmod 0755 px &&
	set_times px 1000000000 1100000000 &&
	run_scp -O -p ours:$TRASH/px px.out &&
	test_atime px.out 1100000000 &&
	test_mtime px.out 1000000000 &&
	test_mode px.out 755 &&
	cmp px px.out
'

test_expect_success '-p keeps mode 0600' '
	mkfile p6 100 && own_trash && chmod 0600 p6 &&
	set_times p6 86400 172800 &&
	run_scp -O -p ours:$TRASH/p6 p6.out &&
	test_atime p6.out 172800 &&
	test_mtime p6.out 86400 &&
	test_mode p6.out 600 &&
	cmp p6 p6.out
'

test_expect_success 'without -p the mode is masked by the umask' '
	mkfile np 100 && own_trash && chmod 0777 np &&
	(umask 027 && run_scp -O ours:$TRASH/np np.out) &&
	test_mode np.out 750
'

test_expect_success 'download from the remote home (relative path)' '
	n=t0102-home-$$ &&
	mkfile "$TEST_HOME/$n" 999 && chown scptest: "$TEST_HOME/$n" &&
	run_scp -O ours:$n homecopy &&
	cmp "$TEST_HOME/$n" homecopy &&
	rm -f "$TEST_HOME/$n"
'

test_done
