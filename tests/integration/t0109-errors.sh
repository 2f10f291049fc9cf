#!/bin/sh
# Errors, messages and exit status (PROTOCOL.md §1 "Exit status", §2
# run_err): per-file errors give 1 and do not stop later operands; fatal
# errors give 255; usage gives 1.
. "$(dirname "$0")/lib.sh"

test_expect_success 'setup' '
	mkfile f 100 && mkfile g 200 && mkdir -p dir
'

test_expect_success 'missing local source: exit 1 and the message' '
	expect_rc 1 run_scp -O nosuch ours:$TRASH/x1 &&
	grep_err "nosuch: No such file or directory" &&
	test ! -e x1
'

test_expect_success 'missing remote source: exit 1, remote message' '
	expect_rc 1 run_scp -O ours:$TRASH/nosuch x2 &&
	grep_err "scp: $TRASH/nosuch: No such file or directory" &&
	test ! -e x2
'

test_expect_success 'a missing source does not stop later ones (upload)' '
	mkdir -p cont &&
	expect_rc 1 run_scp -O nosuch f ours:$TRASH/cont &&
	cmp f cont/f
'

test_expect_success 'a missing source does not stop later ones (download)' '
	mkdir -p cont2 &&
	expect_rc 1 run_scp -O ours:$TRASH/nosuch ours:$TRASH/f cont2 &&
	cmp f cont2/f
'

test_expect_success 'directory without -r: exit 1, "not a regular file"' '
	expect_rc 1 run_scp -O dir ours:$TRASH/x3 &&
	grep_err "not a regular file" &&
	test ! -e x3
'

test_expect_success 'missing remote target directory: exit 1' '
	expect_rc 1 run_scp -O f ours:$TRASH/nodir/x4 &&
	grep_err "No such file or directory" &&
	test ! -e nodir
'

test_expect_success 'missing local target directory: exit 1' '
	expect_rc 1 run_scp -O ours:$TRASH/f nodir/x5 &&
	grep_err "nodir/x5: No such file or directory" &&
	test ! -e nodir
'

test_expect_success 'more than two operands, local non-directory target' '
	expect_rc 1 run_scp -O ours:$TRASH/f ours:$TRASH/g f.target &&
	grep_err "f.target: No such file or directory" &&
	test ! -e f.target &&
	cp f existing &&
	expect_rc 1 run_scp -O ours:$TRASH/f ours:$TRASH/g existing &&
	grep_err "existing: Not a directory" &&
	cmp f existing
'

test_expect_success 'more than two operands, remote non-directory target' '
	cp f rexisting &&
	expect_rc 1 run_scp -O f g ours:$TRASH/rexisting &&
	cmp f rexisting
'

test_expect_success 'usage: no operands, one operand' '
	expect_rc 1 run_scp &&
	grep_err "usage: scp" &&
	expect_rc 1 run_scp f &&
	grep_err "usage: scp"
'

test_expect_success 'unknown option and -M: usage, exit 1' '
	expect_rc 1 run_scp -Z f g &&
	grep_err "usage: scp" &&
	expect_rc 1 run_scp -M x f g &&
	grep_err "usage: scp"
'

test_expect_success '-1 is fatal (255)' '
	expect_rc 255 run_scp -1 f g &&
	grep_err "SSH protocol v.1 is no longer supported"
'

test_expect_success '-l out of range: usage' '
	expect_rc 1 run_scp -l 0 f g &&
	expect_rc 1 run_scp -l 104857601 f g &&
	expect_rc 1 run_scp -l 12abc f g
'

test_expect_success '-P 0 and -P bogus: bad port (255)' '
	expect_rc 255 run_scp -O -P 0 f ours:$TRASH/x6 &&
	grep_err "bad port" &&
	expect_rc 255 run_scp -O -P no-such-service f ours:$TRASH/x6 &&
	grep_err "bad port" &&
	test ! -e x6
'

test_expect_success 'a non-zero ssh exit status makes the result 1' '
	printf "#!/bin/sh\n/usr/bin/ssh \"\$@\"\nexit 3\n" >ssh3 &&
	chmod 0755 ssh3 &&
	expect_rc 1 run_scp -O -S "$TRASH/ssh3" ours:$TRASH/f x7 &&
	cmp f x7
'

test_expect_success 'unwritable local target: exit 1' '
	expect_rc 1 run_scp -O ours:$TRASH/f /proc/x8
'

test_expect_success 'ssh cannot connect: exit 255 from ssh gives 1' '
	expect_rc 1 run_scp -O -S /bin/false f ours:$TRASH/x9
'

test_done
