#!/bin/sh
# Permission denied on one file among many, both protocols (the remote
# user scptest is the one denied: the local client runs as root).
# Download: a 000-mode remote file among readable ones, as operands and
# inside -r.  Upload: a read-only remote directory inside the target
# tree.  The others are still copied, exit 1, the message names the file,
# nothing half-written under a final name.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-faults.sh"

test_expect_success 'setup' '
	mkdir -p src/sub &&
	mkfile src/a 5000 && mkfile src/b 70000 && mkfile src/c 100 &&
	mkfile src/sub/d 3000 && mkfile src/sub/e 10 &&
	own_trash &&
	chmod 000 src/b src/sub/e
'

for p in sftp legacy; do
	o=
	if [ $p = legacy ]; then
		o=-O
	fi
	test_expect_success "$p: download a b c with b unreadable" "
		mkdir -p $p-d1 &&
		expect_rc 1 run_scp $o ours:\$TRASH/src/a ours:\$TRASH/src/b \
		    ours:\$TRASH/src/c $p-d1/ &&
		grep_err src/b && grep_err 'Permission denied' &&
		cmp src/a $p-d1/a && cmp src/c $p-d1/c &&
		test ! -e $p-d1/b
	"
	test_expect_success "$p: download -r with two unreadable files" "
		expect_rc 1 run_scp $o -r ours:\$TRASH/src $p-d2 &&
		grep_err 'Permission denied' &&
		cmp src/a $p-d2/a && cmp src/c $p-d2/c &&
		cmp src/sub/d $p-d2/sub/d &&
		test ! -e $p-d2/b && test ! -e $p-d2/sub/e
	"
	test_expect_success "$p: upload -r into a tree with a read-only dir" "
		rm -rf up $p-u && mkdir -p up/ro up/rw $p-u/up/ro &&
		mkfile up/x 4000 && mkfile up/ro/y 4000 && mkfile up/rw/z 4000 &&
		own_trash && chmod 555 $p-u/up/ro &&
		expect_rc 1 run_scp $o -r up ours:\$TRASH/$p-u/ &&
		grep_err ro/y && grep_err 'Permission denied' &&
		cmp up/x $p-u/up/x && cmp up/rw/z $p-u/up/rw/z &&
		test ! -e $p-u/up/ro/y &&
		test -z \"\$(ls -A $p-u/up/ro)\"
	"
done

test_done
