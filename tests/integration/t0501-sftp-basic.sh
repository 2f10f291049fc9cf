#!/bin/sh
# SFTP mode (the default protocol, PROTOCOL.md §4) uploads and downloads:
# the legacy t0101/t0102 cases without -O, against the real sshd's
# sftp-server on host `ours`, and some through -D (a local sftp-server).
. "$(dirname "$0")/lib.sh"

SFTPSERVER=/usr/lib/openssh/sftp-server

test_expect_success 'upload one file to a new name' '
	mkfile src 33333 &&
	run_scp src ours:$TRASH/dst &&
	cmp src dst
'

test_expect_success 'upload into an existing directory keeps the name' '
	mkdir -p into &&
	run_scp src ours:$TRASH/into &&
	cmp src into/src
'

test_expect_success 'upload over a longer existing file truncates it' '
	mkfile long 100000 && mkfile short 10 && cp long over &&
	run_scp short ours:$TRASH/over &&
	cmp short over
'

test_expect_success 'upload a zero-length file' '
	: >empty &&
	run_scp empty ours:$TRASH/empty.out &&
	test -f empty.out && test ! -s empty.out
'

test_expect_success 'upload a zero-length file over a non-empty one' '
	mkfile zover 500 &&
	run_scp empty ours:$TRASH/zover &&
	test -f zover && test ! -s zover
'

test_expect_success 'several sources into a directory' '
	mkdir -p many &&
	mkfile m1 1 && mkfile m2 4096 && mkfile m3 65537 && : >m4 &&
	run_scp m1 m2 m3 m4 ours:$TRASH/many/ &&
	cmp m1 many/m1 && cmp m2 many/m2 && cmp m3 many/m3 && cmp m4 many/m4
'

# §4 "Upload": SFTP mode MKDIRs a missing multi-source target (obs).
test_expect_success 'several sources, missing target: the directory is made' '
	run_scp m1 m2 ours:$TRASH/made &&
	test -d made && cmp m1 made/m1 && cmp m2 made/m2
'

# OpenSSH exits 255 when the MKDIR fails; a target that cannot be
# written is each file's failure here (docs/SAFETY.md), as in -O.
test_expect_success 'several sources, target an existing file: exit 1' '
	cp m1 rfile &&
	expect_rc 1 run_scp m1 m2 ours:$TRASH/rfile &&
	grep_err "remote mkdir \"$TRASH/rfile\"" &&
	cmp m1 rfile
'

test_expect_success '-p keeps mtime, atime and mode 0755' '
	mkfile px 5000 && chmod 0755 px &&
	set_times px 1000000000 1100000000 &&
	run_scp -p px ours:$TRASH/px.out &&
	test_atime px.out 1100000000 &&
	test_mtime px.out 1000000000 &&
	test_mode px.out 755 &&
	cmp px px.out
'

test_expect_success '-p keeps mode 0600 and an old mtime' '
	mkfile p6 100 && chmod 0600 p6 &&
	set_times p6 86400 172800 &&
	run_scp -p p6 ours:$TRASH/p6.out &&
	test_mode p6.out 600 &&
	test_mtime p6.out 86400 &&
	test_atime p6.out 172800
'

test_expect_success '-p applies mode and times to an existing target' '
	mkfile pe 100 && chmod 0640 pe && set_times pe 123456789 123456789 &&
	mkfile pe.out 5 && chmod 0666 pe.out &&
	run_scp -p pe ours:$TRASH/pe.out &&
	cmp pe pe.out &&
	test_mode pe.out 640 &&
	test_mtime pe.out 123456789
'

test_expect_success 'without -p a new file gets mode & ~umask, fresh mtime' '
	mkfile np 100 && chmod 0777 np && set_times np 1000 1000 &&
	run_scp np ours:$TRASH/np.out &&
	test_mode np.out 755 &&
	test "$(stat -c %Y np.out)" -gt 1000
'

test_expect_success 'setuid bit is not kept without -p' '
	mkfile su 10 &&
	own_trash && chmod 4755 su &&
	run_scp su ours:$TRASH/su.out &&
	test_mode su.out 755
'

test_expect_success 'upload to the remote home (empty path)' '
	n=t0501-home-$$ &&
	mkfile $n 777 &&
	run_scp $n ours: &&
	cmp $n "$TEST_HOME/$n" &&
	rm -f "$TEST_HOME/$n"
'

test_expect_success 'upload to a relative remote path (home-relative)' '
	n=t0501-rel-$$ &&
	run_scp src ours:$n &&
	cmp src "$TEST_HOME/$n" &&
	rm -f "$TEST_HOME/$n"
'

test_expect_success 'download one file to a new name' '
	run_scp ours:$TRASH/src dl &&
	cmp src dl
'

test_expect_success 'download into an existing directory keeps the name' '
	mkdir -p dlinto &&
	run_scp ours:$TRASH/src dlinto &&
	cmp src dlinto/src
'

test_expect_success 'download into "."' '
	mkdir -p dot && mkfile dotsrc 5 &&
	(cd dot && run_scp ours:$TRASH/dotsrc .) &&
	cmp dotsrc dot/dotsrc
'

test_expect_success 'download over a longer existing file truncates it' '
	cp long dlover &&
	run_scp ours:$TRASH/short dlover &&
	cmp short dlover
'

test_expect_success 'download a zero-length file (also over a full one)' '
	run_scp ours:$TRASH/empty empty.dl &&
	test -f empty.dl && test ! -s empty.dl &&
	mkfile zdl 300 &&
	run_scp ours:$TRASH/empty zdl &&
	test -f zdl && test ! -s zdl
'

test_expect_success 'several remote sources into a local directory' '
	mkdir -p dlmany &&
	run_scp ours:$TRASH/m1 ours:$TRASH/m2 ours:$TRASH/m3 dlmany &&
	cmp m1 dlmany/m1 && cmp m2 dlmany/m2 && cmp m3 dlmany/m3
'

test_expect_success 'download -p keeps mtime, atime and mode 0755' '
	own_trash && chmod 0755 px &&
	set_times px 1000000000 1100000000 &&
	run_scp -p ours:$TRASH/px px.dl &&
	test_atime px.dl 1100000000 &&
	test_mtime px.dl 1000000000 &&
	test_mode px.dl 755 &&
	cmp px px.dl
'

test_expect_success 'download -p keeps mode 0600' '
	set_times p6 86400 172800 &&
	run_scp -p ours:$TRASH/p6 p6.dl &&
	test_atime p6.dl 172800 && test_mtime p6.dl 86400 &&
	test_mode p6.dl 600 && cmp p6 p6.dl
'

test_expect_success 'download without -p: mode masked by the umask' '
	own_trash && chmod 0777 np &&
	(umask 027 && run_scp ours:$TRASH/np np.dl) &&
	test_mode np.dl 750
'

test_expect_success 'download of a setuid file drops the bit' '
	own_trash && chmod 4755 su &&
	run_scp ours:$TRASH/su su.dl &&
	test_mode su.dl 755
'

test_expect_success 'download from the remote home (relative path)' '
	n=t0501-home-$$ &&
	mkfile "$TEST_HOME/$n" 999 && chown scptest: "$TEST_HOME/$n" &&
	run_scp ours:$n homecopy &&
	cmp "$TEST_HOME/$n" homecopy &&
	rm -f "$TEST_HOME/$n"
'

test_expect_success '-D sftp-server: upload and download' '
	mkdir -p dsrv &&
	run_scp -D $SFTPSERVER src m1 host:$TRASH/dsrv &&
	cmp src dsrv/src && cmp m1 dsrv/m1 &&
	run_scp -D $SFTPSERVER host:$TRASH/src dsrv.dl &&
	cmp src dsrv.dl
'

# OpenSSH's do_sftp_connect(): an operand's port never reaches the -D
# program (sftp-server reads -p as its allow-list and would deny all).
test_expect_success '-D sftp-server: an scp:// port is not passed to it' '
	run_scp -D $SFTPSERVER src scp://u@host:4242/$TRASH/dport &&
	cmp src dport &&
	run_scp -D $SFTPSERVER scp://u@host:4242/$TRASH/src dport.dl &&
	cmp src dport.dl
'

test_expect_success '-D sftp-server: -p both ways' '
	run_scp -D $SFTPSERVER -p px host:$TRASH/dpx &&
	test_mtime dpx 1000000000 && test_mode dpx 755 &&
	run_scp -D $SFTPSERVER -p host:$TRASH/p6 dp6 &&
	test_mtime dp6 86400 && test_mode dp6 600
'

test_done
