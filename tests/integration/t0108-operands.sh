#!/bin/sh
# Operand forms (PROTOCOL.md §1 "Operand parsing"): user@host:path,
# [v6]:path, scp:// URIs with user, ;params, port and %-encoding, empty
# path = home, and no argument permutation.
. "$(dirname "$0")/lib.sh"

SSHLOG=$TRASH/ssh.log
export SCPTEST_SSHLOG=$SSHLOG
WRAP=$FIXTURES/ssh-log.sh

test_expect_success 'user@host:path upload and download' '
	mkfile f 1000 &&
	run_scp -O f scptest@ours:$TRASH/uh &&
	cmp f uh &&
	run_scp -O scptest@ours:$TRASH/uh uh.back &&
	cmp f uh.back
'

test_expect_success 'user@host reaches ssh as -l user' '
	: >"$SSHLOG" &&
	run_scp -O -S "$WRAP" f scptest@ours:$TRASH/uh2 &&
	cmp f uh2 &&
	grep -x -- -l "$SSHLOG" && grep -x scptest "$SSHLOG"
'

test_expect_success '[::1]:path is a remote operand (brackets stripped)' '
	: >"$SSHLOG" &&
	run_scp -O -S "$WRAP" f "[::1]:$TRASH/v6" &&
	cmp f v6 &&
	grep -x "::1" "$SSHLOG"
'

test_expect_success 'user@[::1]:path' '
	run_scp -O f "scptest@[::1]:$TRASH/v6u" &&
	cmp f v6u &&
	run_scp -O "scptest@[::1]:$TRASH/v6u" v6u.back &&
	cmp f v6u.back
'

test_expect_success 'empty remote path is the home directory' '
	n=t0108-home-$$ &&
	mkfile $n 100 &&
	run_scp -O $n ours: &&
	cmp $n "$TEST_HOME/$n" &&
	rm -f $n &&
	run_scp -O ours:$n . &&
	cmp "$TEST_HOME/$n" $n &&
	rm -f "$TEST_HOME/$n"
'

test_expect_success 'scp:// URI with user, absolute path (//)' '
	run_scp -O f "scp://scptest@ours/$TRASH/uri1" &&
	cmp f uri1 &&
	run_scp -O "scp://scptest@ours/$TRASH/uri1" uri1.back &&
	cmp f uri1.back
'

test_expect_success 'scp:// URI path after the host is home-relative' '
	n=t0108-urirel-$$ &&
	run_scp -O f "scp://ours/$n" &&
	cmp f "$TEST_HOME/$n" &&
	rm -f "$TEST_HOME/$n"
'

test_expect_success 'scp:// URI without a path is the home directory' '
	n=t0108-urihome-$$ &&
	cp f $n &&
	run_scp -O $n "scp://ours" &&
	cmp f "$TEST_HOME/$n" &&
	rm -f "$TEST_HOME/$n"
'

test_expect_success 'scp:// URI %-decodes user and path' '
	run_scp -O f "scp://scp%74est@ours/$TRASH/ur%69%32" &&
	cmp f uri2
'

test_expect_success 'scp:// URI ;params in the user part are ignored' '
	run_scp -O f "scp://scptest;fingerprint=SHA256-xyz@ours/$TRASH/uri3" &&
	cmp f uri3
'

test_expect_success 'scp:// URI port reaches ssh as -p' '
	: >"$SSHLOG" &&
	run_scp -O -S "$WRAP" f "scp://ours:2202/$TRASH/uri4" &&
	cmp f uri4 &&
	grep -x -- -p "$SSHLOG" && grep -x 2202 "$SSHLOG"
'

test_expect_success 'scp:// URI port overrides -P' '
	: >"$SSHLOG" &&
	run_scp -O -S "$WRAP" -P 3000 f "scp://ours:2202/$TRASH/uri5" &&
	cmp f uri5 &&
	grep -x 2202 "$SSHLOG" && ! grep -x 3000 "$SSHLOG"
'

# OpenSSH 9.2 rejects this ("invalid uri", PROTOCOL.md §6 known
# weaknesses); ours accepts it.
test_expect_success_ours 'scp:// URI with a bracketed IPv6 host works' '
	run_scp -O f "scp://scptest@[::1]/$TRASH/uri6" &&
	cmp f uri6 &&
	run_scp -O "scp://[::1]:22/$TRASH/uri6" uri6.back &&
	cmp f uri6.back
'

test_expect_success 'scp:// URI with an invalid host is refused' '
	expect_rc 1 run_scp -O f "scp://bad..host/$TRASH/uri7" &&
	grep_err "invalid uri" &&
	test ! -e uri7
'

# OpenSSH 9.2 checks the user of source operands only (obs).
test_expect_success 'source user name with a space is rejected' '
	expect_rc 1 run_scp -O "bad user@ours:$TRASH/f" baduser &&
	grep_err "invalid user name" &&
	test ! -e baduser
'

# Portable OpenSSH's getopt stops at the first operand, so "-P 2202"
# after it are two more operands (obs), and "2202" is then a local target
# directory that does not exist.
test_expect_success 'no argument permutation: -P after operands is an operand' '
	: >"$SSHLOG" &&
	expect_rc 1 run_scp -O -S "$WRAP" f ours:$TRASH/perm -P 2202 &&
	grep_err "2202" &&
	test ! -e perm &&
	! grep -x 2202 "$SSHLOG"
'

test_expect_success 'no permutation: an -o operand never reaches ssh' '
	: >"$SSHLOG" &&
	expect_fail run_scp -O -S "$WRAP" f "-oProxyCommand=touch $TRASH/pwned:x" \
	    ours:$TRASH/permdir &&
	test ! -e pwned &&
	! grep -- "-oProxyCommand=touch" "$SSHLOG"
'

test_done
