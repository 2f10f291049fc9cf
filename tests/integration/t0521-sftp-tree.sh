#!/bin/sh
# An SFTP upload of a directory whose target does not exist is built as
# ".NAME.scp-dir" beside it and renamed into place once every file in it
# is whole (docs/protocol-sftp.md "Many files in flight (uploads)"):
#  - the copy is identical and nothing temporary is left;
#  - an existing target directory is reused (files replaced in place of
#    the old ones, others kept), never swapped for a new tree;
#  - a stale ".NAME.scp-dir" of an interrupted run does not stop the copy
#    (the plain way is taken) and is left alone;
#  - a target that is a regular file: "remote mkdir" error, exit 1;
#  - --inplace and --resume keep the plain way (no temporary tree);
#  - with a failing file inside, the tree is still published without it.
# OpenSSH 9.2 creates the directory first and writes into it: the cases
# that look at the temporary name are ours only.
. "$(dirname "$0")/lib.sh"

mktree () {
	mkdir -p "$1/a/b" "$1/c" &&
	for f in 1 2 3 4 5; do
		head -c $((f * 1000)) /dev/urandom >"$1/a/f$f" &&
		head -c $((f * 333)) /dev/urandom >"$1/a/b/g$f" &&
		head -c $((f * 77)) /dev/urandom >"$1/c/h$f" || return 1
	done
}

no_tmp () {
	_t=$(find "$1" -name '*.scp-dir' -o -name '*.scp-part' | head -n 3)
	if [ -n "$_t" ]; then
		echo "temporary names left: $_t" >&2
		return 1
	fi
}

test_expect_success 'setup' '
	mktree src && mkdir -p r1 r2 r3 r4 r5 r6 r7
'

test_expect_success 'new directory: identical, nothing temporary left' '
	run_scp -r src ours:$TRASH/r1/ &&
	diff -r src r1/src && no_tmp r1
'

test_expect_success 'existing directory: reused, other files kept' '
	mkdir -p r2/src/a && echo keep >r2/src/a/mine &&
	echo old >r2/src/a/f1 &&
	run_scp -r src ours:$TRASH/r2/ &&
	diff -r -x mine src r2/src && test "$(cat r2/src/a/mine)" = keep &&
	no_tmp r2
'

# The walk starts before the answers (up_spec.c, the speculative tree)
# and opens files in the temporary tree with EXCL: a stale tree's own
# files are never truncated, and nothing is written into it.
test_expect_success_ours 'stale .NAME.scp-dir: copy done the plain way, stale left' '
	mkdir -p r3/.src.scp-dir/a && echo stale >r3/.src.scp-dir/x &&
	echo stale >r3/.src.scp-dir/a/f1 &&
	run_scp -r src ours:$TRASH/r3/ &&
	diff -r src r3/src && test "$(cat r3/.src.scp-dir/x)" = stale &&
	test "$(cat r3/.src.scp-dir/a/f1)" = stale &&
	test -z "$(find r3/.src.scp-dir -type f -size +0 ! -name x \
	    ! -path "*/a/f1")"
'

test_expect_success 'existing directory, again: the speculative tree is
    removed, no temporary name left, a file inside it replaced' '
	mkdir -p r7/src/c && echo old >r7/src/c/h1 &&
	run_scp -r src ours:$TRASH/r7/ &&
	diff -r src r7/src && no_tmp r7 &&
	run_scp -r src ours:$TRASH/r7 &&
	diff -r src r7/src && no_tmp r7 && test ! -e r7/src/src
'

test_expect_success 'target name is a regular file: remote mkdir error, 1' '
	echo file >r4/src &&
	expect_rc 1 run_scp -r src ours:$TRASH/r4/ &&
	grep_err "remote mkdir" && test "$(cat r4/src)" = file &&
	no_tmp r4
'

test_expect_success '--inplace: the plain way, identical' '
	run_scp --inplace -r src ours:$TRASH/r5/ &&
	diff -r src r5/src && no_tmp r5
'

test_expect_success_ours 'a failing file: published without it, 1' '
	mktree bad && ln -s nowhere bad/a/b/dangling &&
	expect_rc 1 run_scp -r bad ours:$TRASH/r6/ &&
	grep_err "bad/a/b/dangling" && test -d r6/bad &&
	test ! -e r6/bad/a/b/dangling && diff -r -x dangling bad r6/bad &&
	no_tmp r6
'

test_expect_success '-rp into a new name (target does not exist)' '
	run_scp -rp src ours:$TRASH/r7/new &&
	diff -r src r7/new && no_tmp r7 &&
	test "$(stat -c %Y src/a)" = "$(stat -c %Y r7/new/a)" &&
	test "$(stat -c %Y src)" = "$(stat -c %Y r7/new)"
'

test_done
