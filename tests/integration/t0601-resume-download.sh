#!/bin/sh
# --resume of SFTP downloads (docs/SAFETY.md): a killed copy continues
# from its verified partial; partials that are not a prefix, or of an
# older version of the source, are not trusted; complete files skipped.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-resume.sh"

test_expect_success_ours 'killed download keeps its partial, --resume finishes it' '
	mkfile big 1500000 && mkdir -p dl &&
	kill_mid 9 "dl/.big.*.scp-part" 200000 -l 2000 ours:$TRASH/big dl/big &&
	test ! -e dl/big &&
	p=$(partname big) && p=dl/${p#./} && test -f "$p" &&
	have=$(stat -c %s "$p") &&
	expect_rc 0 run_scp -v --resume ours:$TRASH/big dl/big &&
	cmp big dl/big &&
	at=$(resumed_at) && test -n "$at" && test "$at" -gt 0 &&
	test "$at" -le "$have" &&
	test -z "$(find dl -name "*.scp-part")"
'

test_expect_success_ours 'SIGINT: message names the file, exit 1, partial kept' '
	mkdir -p dl2 &&
	kill_mid INT "dl2/.big.*.scp-part" 100000 -l 2000 ours:$TRASH/big dl2/big &&
	test "$(cat kill.rc)" -ne 0 &&
	grep -F "big" kill.err &&
	test ! -e dl2/big &&
	test -n "$(find dl2 -name ".big.*.scp-part")" &&
	expect_rc 0 run_scp -v --resume ours:$TRASH/big dl2/big &&
	cmp big dl2/big && test -n "$(resumed_at)"
'

test_expect_success_ours 'a partial that is not a prefix is copied from zero' '
	mkfile f1 100000 && mkdir -p dl3 &&
	p=dl3/$(basename "$(partname f1)") &&
	head -c 60000 f1 >"$p" &&
	printf X | dd of="$p" bs=1 seek=59999 conv=notrunc 2>/dev/null &&
	expect_rc 0 run_scp -v --resume ours:$TRASH/f1 dl3/f1 &&
	cmp f1 dl3/f1 && test -z "$(resumed_at)" &&
	grep_err "not a prefix" &&
	test ! -e "$p"
'

test_expect_success_ours 'a good partial of the same version is used' '
	mkfile f2 100000 && mkdir -p dl4 &&
	p=dl4/$(basename "$(partname f2)") &&
	head -c 60000 f2 >"$p" &&
	expect_rc 0 run_scp -v --resume ours:$TRASH/f2 dl4/f2 &&
	cmp f2 dl4/f2 && test "$(resumed_at)" = 60000
'

test_expect_success_ours 'partials of an older source (size or mtime) are discarded' '
	mkfile f3 100000 && mkdir -p dl5 &&
	head -c 50000 f3 >dl5/.f3.99999-$(stat -c %Y f3).scp-part &&
	head -c 50000 f3 >dl5/.f3.100000-12345.scp-part &&
	expect_rc 0 run_scp -v --resume ours:$TRASH/f3 dl5/f3 &&
	cmp f3 dl5/f3 && test -z "$(resumed_at)" &&
	test -z "$(find dl5 -name "*.scp-part")"
'

test_expect_success_ours 'complete files are skipped' '
	mkfile f4 70000 && mkdir -p dl6 && cp f4 dl6/f4 &&
	touch -d @1000000 dl6/f4 &&
	expect_rc 0 run_scp -v --resume ours:$TRASH/f4 dl6/f4 &&
	grep_err "already complete, skipped" &&
	test_mtime dl6/f4 1000000
'

test_expect_success_ours 'same size but a different last block is copied' '
	mkdir -p dl7 && cp f4 dl7/f4 &&
	printf X | dd of=dl7/f4 bs=1 seek=69999 conv=notrunc 2>/dev/null &&
	expect_rc 0 run_scp -v --resume ours:$TRASH/f4 dl7/f4 &&
	! grep -F "already complete" err && cmp f4 dl7/f4
'

test_expect_success_ours '-p: same size and mtime is complete, other mtime is copied' '
	mkdir -p dl8 && cp -p f4 dl8/f4 && cp f4 dl8/g4 &&
	touch -d @1000000 dl8/g4 &&
	expect_rc 0 run_scp -v -p --resume ours:$TRASH/f4 dl8/f4 &&
	grep_err "already complete, skipped" &&
	expect_rc 0 run_scp -v -p --resume ours:$TRASH/f4 dl8/g4 &&
	! grep -F "already complete" err &&
	test_mtime dl8/g4 "$(stat -c %Y f4)"
'

test_expect_success_ours '-r --resume: only the unfinished file is fetched' '
	mktree tree && mkdir -p dl9 && cp -r tree dl9/tree &&
	rm dl9/tree/sub/c &&
	p=dl9/tree/sub/$(basename "$(partname tree/sub/c)") &&
	head -c 40000 tree/sub/c >"$p" &&
	expect_rc 0 run_scp -v -r --resume ours:$TRASH/tree dl9 &&
	same_tree tree dl9/tree && test "$(resumed_at)" = 40000 &&
	test -z "$(find dl9 -name "*.scp-part")"
'

test_expect_success_ours '-O --resume says once that it copies whole files' '
	mkdir -p dl10 &&
	expect_rc 0 run_scp -O --resume ours:$TRASH/f4 ours:$TRASH/f3 dl10 &&
	test "$(grep -c "legacy protocol (-O) has no offsets" err)" = 1 &&
	cmp f4 dl10/f4 && cmp f3 dl10/f3
'

test_expect_success_ours 'a source that grows during the download is an error' '
	mkfile grow 800000 && mkdir -p dl11 && own_trash
	"$SCP" -F "$SSHCONF" -l 2000 ours:$TRASH/grow dl11/grow \
	    </dev/null >g.out 2>g.err &
	pid=$!
	i=0; while [ $i -lt 100 ] && [ -z "$(find dl11 -name ".grow.*")" ]; do
		sleep 0.1; i=$((i + 1)); done
	head -c 1000 /dev/urandom >>grow
	st=0; wait $pid || st=$?
	cat g.err >&2 &&
	test "$st" -ne 0 &&
	grep -F "changed size" g.err && test ! -e dl11/grow
'

test_expect_success '--resume to a device writes it in place' '
	expect_rc 0 run_scp --resume ours:$TRASH/f4 /dev/null &&
	test -c /dev/null
'

test_done
