#!/bin/sh
# A client no one here wrote: PuTTY's pscp (Debian putty-tools) in -scp
# mode against our server side.  pscp reaches lib.sh's `ours` sshd
# through -proxycmd (sshd -i, as every host here), whose PATH starts
# with our build, so the `scp -t` / `scp -f` it runs is ours.  Its key
# is the run's client key converted by puttygen, the host key pinned by
# fingerprint (-hostkey, -batch: no prompt), HOME a scratch directory
# (PuTTY keeps ~/.putty there).  Byte comparison throughout.
. "$(dirname "$0")/lib.sh"

if ! command -v pscp >/dev/null 2>&1 ||
    ! command -v puttygen >/dev/null 2>&1; then
	test_skip 'pscp interop' 'putty-tools not installed (scripts/deps.sh)'
	test_done
fi

RD=$SCPTEST_RUNDIR

# run_pscp ARGS...: pscp -scp against `ours`, bounded in time.
run_pscp () {
	own_trash
	echo "+ pscp -scp $*" >&2
	HOME=$TRASH/puttyhome timeout -k 5 "$SCPTEST_TIMEOUT" pscp -scp -batch \
	    -noagent -q -i "$TRASH/client.ppk" -hostkey "$(cat "$TRASH/fp")" \
	    -proxycmd "/usr/sbin/sshd -i -f $RD/sshd_ours" -l "$TEST_USER" \
	    "$@" </dev/null
}

test_expect_success 'setup: a PuTTY key, the pinned host key, our scp remote' '
	mkdir -p puttyhome &&
	puttygen "$RD/keys/client" -O private -o client.ppk &&
	ssh-keygen -lf "$RD/keys/host.pub" | cut -d" " -f2 >fp &&
	grep -q "^SHA256:" fp &&
	remote "command -v scp" >out &&
	test "$(cat out)" = "$RD/bin-ours/scp" &&
	mkfile f 400009 && : >empty && mktree tree
'

test_expect_success 'upload one file and an empty one' '
	run_pscp f ours:$TRASH/f.up &&
	cmp f f.up &&
	run_pscp empty ours:$TRASH/empty.up &&
	test -f empty.up && test ! -s empty.up
'

test_expect_success 'upload several files into a directory' '
	mkdir -p into && mkfile m1 1 && mkfile m2 70000 &&
	run_pscp m1 m2 f ours:$TRASH/into &&
	cmp m1 into/m1 && cmp m2 into/m2 && cmp f into/f
'

test_expect_success 'download one file' '
	mkdir -p down &&
	run_pscp ours:$TRASH/f down/f &&
	cmp f down/f
'

test_expect_success 'download into a directory keeps the name' '
	mkdir -p down2 &&
	run_pscp ours:$TRASH/m2 down2 &&
	cmp m2 down2/m2
'

test_expect_success '-r upload of a tree' '
	run_pscp -r tree ours:$TRASH/tree.up &&
	same_tree tree tree.up
'

test_expect_success '-r download of a tree' '
	run_pscp -r ours:$TRASH/tree tree.down &&
	same_tree tree tree.down
'

test_expect_success '-p keeps mtime and mode both ways' '
	mkfile pf 3000 && chmod 0640 pf &&
	set_times pf 1000000000 1100000000 &&
	run_pscp -p pf ours:$TRASH/pf.up &&
	test_mode pf.up 640 && test_mtime pf.up 1000000000 && cmp pf pf.up &&
	run_pscp -p ours:$TRASH/pf.up pf.down &&
	test_mtime pf.down 1000000000 && cmp pf pf.down
'

test_expect_success 'a missing remote file fails and names it' '
	expect_fail run_pscp ours:$TRASH/nosuch nothere &&
	grep_err nosuch &&
	test ! -e nothere
'

test_done
