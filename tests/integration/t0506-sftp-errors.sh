#!/bin/sh
# SFTP mode errors, messages and exit status (PROTOCOL.md §1 "Exit
# status", §4): a missing local source and remote errors are per-file
# (1), only setup failures are 255; messages as OpenSSH 9.2 prints them.
. "$(dirname "$0")/lib.sh"

test_expect_success 'setup' '
	mkfile f 100 && mkfile g 200 && mkdir -p dir
'

# A missing local source is one file's failure, as in -O (issue 14):
# reported in walk order, every other file still copied, exit 1.  With
# no source at all to copy, no connection is made.
test_expect_success 'missing local source: exit 1, the message' '
	expect_rc 1 run_scp nosuch ours:$TRASH/x1 &&
	grep_err "stat local \"nosuch\": No such file or directory" &&
	test ! -e x1
'

test_expect_success 'missing local source: the other files are copied' '
	mkdir -p cont &&
	expect_rc 1 run_scp nosuch f ours:$TRASH/cont &&
	cmp f cont/f &&
	grep_err "stat local \"nosuch\": No such file or directory" &&
	mkdir -p cont1 &&
	expect_rc 1 run_scp f nosuch g ours:$TRASH/cont1 &&
	cmp f cont1/f && cmp g cont1/g &&
	test "$(grep -c "stat local" err)" = 1
'

test_expect_success 'missing local sources are reported in walk order' '
	mkdir -p cont3 &&
	expect_rc 1 run_scp nosuch1 f nosuch2 ours:$TRASH/cont3 &&
	cmp f cont3/f &&
	test "$(grep "stat local" err | grep -o "nosuch[12]" | tr "\n" " ")" = \
	    "nosuch1 nosuch2 "
'

test_expect_success 'missing remote source: exit 1, the message' '
	expect_rc 1 run_scp ours:$TRASH/nosuch x2 &&
	grep_err "scp: $TRASH/nosuch: No such file or directory" &&
	test ! -e x2
'

test_expect_success 'a missing remote source does not stop later ones' '
	mkdir -p cont2 &&
	expect_rc 1 run_scp ours:$TRASH/nosuch ours:$TRASH/f cont2 &&
	cmp f cont2/f
'

test_expect_success 'directory without -r (upload): exit 1' '
	expect_rc 1 run_scp dir ours:$TRASH/x3 &&
	grep_err "local \"dir\" is not a regular file" &&
	grep_err "failed to upload file dir to $TRASH/x3" &&
	test ! -e x3
'

test_expect_success 'directory without -r (download): exit 1' '
	expect_rc 1 run_scp ours:$TRASH/dir x3d &&
	grep_err "download $TRASH/dir/: not a regular file" &&
	test ! -e x3d
'

test_expect_success 'missing remote target directory: exit 1' '
	expect_rc 1 run_scp f ours:$TRASH/nodir/x4 &&
	grep_err "dest open \"$TRASH/nodir/x4\": No such file or directory" &&
	test ! -e nodir
'

test_expect_success 'missing local target directory: exit 1' '
	expect_rc 1 run_scp ours:$TRASH/f nodir/x5 &&
	grep_err "open local \"nodir/x5\": No such file or directory" &&
	test ! -e nodir
'

test_expect_success 'more than two operands, local non-directory target' '
	expect_rc 1 run_scp ours:$TRASH/f ours:$TRASH/g f.target &&
	grep_err "f.target: No such file or directory" &&
	test ! -e f.target
'

test_expect_success 'a remote glob with several matches, local file target' '
	mkdir -p gm && mkfile gm/a 1 && mkfile gm/b 2 && cp f gmfile &&
	expect_rc 1 run_scp "ours:$TRASH/gm/*" gmfile &&
	grep_err "is not a directory" &&
	cmp f gmfile
'

test_expect_success 'a remote glob with several matches makes a missing dir' '
	run_scp "ours:$TRASH/gm/*" gmnew &&
	cmp gm/a gmnew/a && cmp gm/b gmnew/b
'

test_expect_success 'a glob matching nothing: exit 1, No such file' '
	expect_rc 1 run_scp "ours:$TRASH/gm/zz*" nomatch &&
	grep_err "No such file or directory" &&
	test ! -e nomatch
'

test_expect_success 'unwritable remote target: exit 1, Permission denied' '
	expect_rc 1 run_scp f ours:/proc/x6 &&
	grep_err "dest open"
'

test_expect_success 'unwritable local target: exit 1' '
	expect_rc 1 run_scp ours:$TRASH/f /proc/x8
'

test_expect_success 'a non-zero ssh exit status makes the result 1' '
	printf "#!/bin/sh\n/usr/bin/ssh \"\$@\"\nexit 3\n" >ssh3 &&
	chmod 0755 ssh3 &&
	expect_rc 1 run_scp -S "$TRASH/ssh3" ours:$TRASH/f x7 &&
	cmp f x7
'

# OpenSSH: sftp_init() fails ("Connection closed"), fatal 255.
test_expect_success 'ssh cannot connect: "Connection closed", exit 255' '
	expect_rc 255 run_scp -S /bin/false f ours:$TRASH/x9 &&
	grep_err "Connection closed" &&
	! grep -q "Connection reset" err &&
	expect_rc 255 run_scp -S /bin/false ours:$TRASH/f x9 &&
	grep_err "Connection closed" &&
	! grep -q "Connection reset" err &&
	test ! -e x9
'

test_expect_success 'an ssh that dies after a while: "Connection closed", 255' '
	printf "#!/bin/sh\nsleep 1\nexit 255\n" >sshdie &&
	chmod 0755 sshdie &&
	expect_rc 255 run_scp -S "$TRASH/sshdie" f ours:$TRASH/x10 &&
	grep_err "Connection closed" &&
	! grep -q "Connection reset" err
'

test_expect_success 'a wrong user: ssh fails, exit 255' '
	expect_rc 255 run_scp -o User=nobody-here f ours:$TRASH/x11 &&
	test ! -e x11
'

test_expect_success 'text before the SFTP stream: OpenSSH hint, exit 255' '
	printf "#!/bin/sh\necho hello from a noisy shell\nsleep 1\n" >sshnoisy &&
	chmod 0755 sshnoisy &&
	expect_rc 255 run_scp -S "$TRASH/sshnoisy" f ours:$TRASH/x12 &&
	grep_err "Ensure the remote shell produces no output" &&
	test ! -e x12
'

# §6 (ours): a copy onto itself must not truncate it (no TRUNC on open).
test_expect_success 'upload of a file onto itself keeps it' '
	mkfile self 70000 && cp self self.orig &&
	run_scp self ours:$TRASH/self &&
	cmp self.orig self
'

test_expect_success 'download of a file onto itself keeps it' '
	run_scp ours:$TRASH/self self &&
	cmp self.orig self &&
	run_scp ours:$TRASH/self $TRASH/self &&
	cmp self.orig self
'

# OpenSSH 9.2 opens the -3 destination with TRUNC: the file is lost.
test_expect_success_ours '-3 copy of a file onto itself keeps it' '
	{ run_scp -3 ours:$TRASH/self ours:$TRASH/self || true; } &&
	cmp self.orig self
'

test_done
