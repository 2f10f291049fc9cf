#!/bin/sh
# --resume of SFTP uploads (docs/SAFETY.md): the remote partial is read
# back (READ of its last block) before the copy continues after it.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-resume.sh"

test_expect_success_ours 'killed upload keeps its partial, --resume finishes it' '
	mkfile big 1500000 && mkdir -p up &&
	kill_mid 9 "up/.big.*.scp-part" 200000 -l 2000 big ours:$TRASH/up/big &&
	sleep 1 && test ! -e up/big &&
	p=up/$(basename "$(partname big)") && test -f "$p" &&
	expect_rc 0 run_scp -v --resume big ours:$TRASH/up/big &&
	cmp big up/big &&
	at=$(resumed_at) && test -n "$at" && test "$at" -gt 0 &&
	test -z "$(find up -name "*.scp-part")"
'

test_expect_success_ours 'SIGTERM: exit 1, message names the file, partial kept' '
	mkdir -p up2 &&
	kill_mid TERM "up2/.big.*.scp-part" 100000 -l 2000 big ours:$TRASH/up2/big &&
	test "$(cat kill.rc)" -ne 0 &&
	grep -F "big" kill.err &&
	sleep 1 && test ! -e up2/big &&
	test -n "$(find up2 -name ".big.*.scp-part")" &&
	expect_rc 0 run_scp -v --resume big ours:$TRASH/up2/big &&
	cmp big up2/big && test -n "$(resumed_at)"
'

test_expect_success_ours 'a remote partial that is not a prefix is copied from zero' '
	mkfile f1 100000 && mkdir -p up3 &&
	p=up3/$(basename "$(partname f1)") &&
	head -c 60000 f1 >"$p" &&
	printf X | dd of="$p" bs=1 seek=59999 conv=notrunc 2>/dev/null &&
	expect_rc 0 run_scp -v --resume f1 ours:$TRASH/up3/f1 &&
	cmp f1 up3/f1 && test -z "$(resumed_at)" &&
	grep_err "not a prefix" && test ! -e "$p"
'

test_expect_success_ours 'a partial longer than the source is copied from zero' '
	mkdir -p up4 && p=up4/$(basename "$(partname f1)") &&
	cat f1 f1 >"$p" &&
	expect_rc 0 run_scp -v --resume f1 ours:$TRASH/up4/f1 &&
	cmp f1 up4/f1 && test -z "$(resumed_at)"
'

test_expect_success_ours 'a good remote partial is used' '
	mkdir -p up5 && p=up5/$(basename "$(partname f1)") &&
	head -c 70000 f1 >"$p" &&
	expect_rc 0 run_scp -v --resume f1 ours:$TRASH/up5/f1 &&
	cmp f1 up5/f1 && test "$(resumed_at)" = 70000
'

test_expect_success_ours 'remote partials of an older source are removed' '
	mkdir -p up6 &&
	head -c 500 f1 >up6/.f1.99-1.scp-part &&
	head -c 500 f1 >up6/.f1.scp-part &&
	expect_rc 0 run_scp -v --resume f1 ours:$TRASH/up6/f1 &&
	cmp f1 up6/f1 && test -z "$(find up6 -name "*.scp-part")"
'

test_expect_success_ours 'complete remote files are skipped, others copied' '
	mkdir -p up7 && cp f1 up7/f1 && touch -d @1000000 up7/f1 &&
	cp f1 up7/g1 && printf X | dd of=up7/g1 bs=1 seek=99999 \
	    conv=notrunc 2>/dev/null && cp f1 g1 &&
	expect_rc 0 run_scp -v --resume f1 ours:$TRASH/up7/f1 &&
	grep_err "already complete, skipped" && test_mtime up7/f1 1000000 &&
	expect_rc 0 run_scp -v --resume g1 ours:$TRASH/up7/g1 &&
	! grep -F "already complete" err && cmp f1 up7/g1
'

test_expect_success_ours '-r --resume upload: only the unfinished file is sent' '
	mktree tree && mkdir -p up8 && cp -r tree up8/tree &&
	rm up8/tree/sub/deeper/d &&
	p=up8/tree/sub/deeper/$(basename "$(partname tree/sub/deeper/d)") &&
	head -c 100000 tree/sub/deeper/d >"$p" &&
	expect_rc 0 run_scp -v -r --resume tree ours:$TRASH/up8 &&
	same_tree tree up8/tree && test "$(resumed_at)" = 100000 &&
	test -z "$(find up8 -name "*.scp-part")"
'

test_expect_success_ours '-O --resume upload copies whole files, said once' '
	mkdir -p up9 &&
	expect_rc 0 run_scp -O --resume f1 g1 ours:$TRASH/up9 &&
	test "$(grep -c "no offsets" err)" = 1 && cmp f1 up9/f1
'

test_done
