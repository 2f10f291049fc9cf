#!/bin/sh
# A source that shrinks or vanishes while being read, both protocols,
# both directions: exit non-zero, and the final name never holds a short
# or mixed file (PROTOCOL.md §2 source step 4: zero fill + \1 error; ours
# in SFTP mode: a short read is an error, not a short upload).
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-faults.sh"

test_expect_success 'setup' '
	mkfile big 3000000
'

# shrink_case PROTO DIR: copy a fresh copy of big slowly and cut the
# source to 1000 bytes once 300 kB arrived.
shrink_case () {
	_o=
	if [ "$1" = legacy ]; then
		_o=-O
	fi
	name=$1-$2-shrink
	rm -f "$name" ".$name".* "src-$name"
	cp big "src-$name"
	if [ "$2" = down ]; then
		bg_scp $_o -q -l 8000 "ours:$TRASH/src-$name" "$name"
	else
		bg_scp $_o -q -l 8000 "src-$name" "ours:$TRASH/$name"
	fi
	wait_partial "$TRASH" "$name" 300000 || return 1
	truncate -s 1000 "src-$name"
	bg_wait 30
}

for p in sftp legacy; do
	for d in up down; do
		test_expect_success_ours "$p: ${d}load of a source cut short" "
			shrink_case $p $d &&
			test \"\$st\" = 1 &&
			grep -q 'changed size' err &&
			test ! -e $p-$d-shrink
		"
	done
done

# The second source disappears while the first is copied (a missing
# local source is fatal in SFTP mode, exit 255: PROTOCOL.md §1).
for p in sftp legacy; do
	o=
	if [ $p = legacy ]; then
		o=-O
	fi
	test_expect_success "$p: upload, a later source vanishes" "
		rm -rf $p-van && mkdir -p $p-van && own_trash &&
		cp big $p-v1 && mkfile $p-v2 100 &&
		bg_scp $o -q -l 8000 $p-v1 $p-v2 ours:\$TRASH/$p-van/ &&
		wait_partial $p-van $p-v1 300000 &&
		rm $p-v2 &&
		bg_wait 30 &&
		test \"\$st\" != 0 &&
		{ test \"\$st\" -lt 124 || test \"\$st\" = 255; } &&
		grep -q $p-v2 err &&
		cmp big $p-van/$p-v1 && test ! -e $p-van/$p-v2
	"
	test_expect_success "$p: upload, the source unlinked mid-file" "
		rm -rf $p-unl && mkdir -p $p-unl && own_trash &&
		cp big $p-u1 &&
		bg_scp $o -q -l 8000 $p-u1 ours:\$TRASH/$p-unl/ &&
		wait_partial $p-unl $p-u1 300000 &&
		rm $p-u1 &&
		bg_wait 30 &&
		test \"\$st\" = 0 &&
		cmp big $p-unl/$p-u1
	"
done

test_done
