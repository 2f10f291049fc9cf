#!/bin/sh
# Where we deliberately do better than OpenSSH 9.2 (doc/scp.1 SAFETY,
# docs/protocol-scp.md "Writing"): atomic writes through .NAME.scp-part,
# no following of symlinks the server could have planted, --inplace and
# --timeout.  Tests OpenSSH fails are marked test_expect_success_ours.
. "$(dirname "$0")/lib.sh"

FAKE=$FIXTURES/fake-ssh.sh

# fake MODE ARGS...: run the client against fake-ssh in MODE; the last
# argument is the local target.
fake () {
	SCPTEST_MODE=$1
	export SCPTEST_MODE
	shift
	run_scp -O -S "$FAKE" "$@"
}

test_expect_success 'fake peer sanity: a correct file is accepted' '
	mkdir -p t0 &&
	fake good-file fake:good t0 &&
	test "$(cat t0/good)" = xxxxx
'

test_expect_success 'successful downloads leave no temporary files' '
	mktree tree &&
	run_scp -O -r ours:$TRASH/tree tree.down &&
	run_scp -O ours:$TRASH/tree/b ours:$TRASH/tree/a tree.down &&
	same_tree tree tree.down &&
	test -z "$(find . -name "*.scp-part")"
'

test_expect_success_ours 'short data keeps the old contents of the target' '
	mkdir -p t1 && echo old >t1/short &&
	SCPTEST_TIMEOUT=30 expect_fail fake short-data fake:short t1 &&
	test "$(cat t1/short)" = old &&
	test "$(cat t1/.short.scp-part)" = xxxxx
'

test_expect_success_ours 'short data for a new file: no file under the final name' '
	mkdir -p t2 &&
	SCPTEST_TIMEOUT=30 expect_fail fake short-data fake:short t2 &&
	test ! -e t2/short
'

test_expect_success_ours 'a file the source reports as failed is dropped' '
	mkdir -p t3 &&
	SCPTEST_TIMEOUT=30 expect_fail fake data-error fake:derr t3 &&
	test ! -e t3/derr
'

test_expect_success_ours '--inplace: short data is written under the final name' '
	mkdir -p t4 && printf 0123456789 >t4/short &&
	SCPTEST_TIMEOUT=30 expect_fail fake short-data --inplace fake:short t4 &&
	test "$(head -c 5 t4/short)" = xxxxx &&
	test ! -e t4/.short.scp-part
'

test_expect_success_ours '--inplace keeps the inode (hard links see the copy)' '
	mkfile src 1000 && mkfile t5 10 && ln t5 t5.link &&
	run_scp -O --inplace ours:$TRASH/src t5 &&
	cmp src t5 && cmp src t5.link
'

test_expect_success_ours 'default: a hard link of the old target is untouched' '
	mkfile t6 10 && ln t6 t6.link && cp t6 t6.orig &&
	run_scp -O ours:$TRASH/src t6 &&
	cmp src t6 && cmp t6.orig t6.link
'

test_expect_success_ours 'a symlink planted in the target dir is not followed' '
	sentinel out7 && echo outside >out7/outside.txt &&
	mkdir -p srcdir dl7 && mkfile srcdir/link 100 &&
	ln -s ../out7/outside.txt dl7/link &&
	run_scp -O ours:$TRASH/srcdir/link dl7 &&
	test "$(cat out7/outside.txt)" = outside &&
	test ! -L dl7/link && cmp srcdir/link dl7/link
'

test_expect_success_ours '-r: a symlink where a D record names a dir is refused' '
	sentinel out8 && mkdir -p rt && mkfile rt/f 10 && mkdir -p dl8 &&
	ln -s ../out8 dl8/rt &&
	expect_rc 1 run_scp -O -r ours:$TRASH/rt dl8 &&
	check_sentinel out8
'

test_expect_success_ours '--timeout: a silent peer fails, exit 1, in time' '
	mkdir -p t9 && t0=$(now) &&
	SCPTEST_TIMEOUT=30 expect_rc 1 fake silent --timeout=2 fake:x t9 &&
	t1=$(now) && echo "took $((t1 - t0)) s" &&
	test $((t1 - t0)) -lt 20 && ! grep -q usage err
'

test_expect_success_ours '--timeout: a stall in the middle of a file' '
	mkdir -p t10 && t0=$(now) &&
	SCPTEST_TIMEOUT=30 expect_rc 1 fake stall-data --timeout=2 fake:stall t10 &&
	t1=$(now) && echo "took $((t1 - t0)) s" &&
	test $((t1 - t0)) -lt 20 && ! grep -q usage err &&
	test ! -e t10/stall
'

test_done
