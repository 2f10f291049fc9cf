#!/bin/sh
# local -> local: scp runs cp (PROTOCOL.md §1 "Modes by operand kinds").
. "$(dirname "$0")/lib.sh"

test_expect_success 'copy a file' '
	mkfile a 5000 &&
	run_scp a b &&
	cmp a b
'

test_expect_success 'copy several files into a directory' '
	mkdir -p d && mkfile c 1 &&
	run_scp a c d &&
	cmp a d/a && cmp c d/c
'

test_expect_success 'copy -r a tree' '
	mktree tree &&
	run_scp -r tree tree2 &&
	same_tree tree tree2
'

test_expect_success 'copy -p keeps mode and mtime' '
	chmod 0751 a && set_times a 999999999 999999999 &&
	run_scp -p a ap &&
	test_mode ap 751 && test_mtime ap 999999999 && cmp a ap
'

test_expect_success 'a colon after a slash is a local name' '
	mkfile ./x:y 10 &&
	run_scp ./x:y ./x:z &&
	cmp ./x:y ./x:z
'

test_expect_success 'a name starting with : is local' '
	mkdir -p colon && (cd colon && mkfile :lead 10 && run_scp :lead :copy &&
	cmp :lead :copy)
'

test_expect_success 'missing local source: exit 1' '
	expect_rc 1 run_scp nosuch b2 &&
	test ! -e b2
'

test_expect_success 'several sources into a non-directory: exit 1' '
	expect_rc 1 run_scp a c b &&
	grep_err "Not a directory"
'

test_done
