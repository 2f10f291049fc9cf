#!/bin/sh
# --timeout with -3 in legacy mode (PROTOCOL.md section 3 "-3 legacy"):
# the two remote scps normally talk through a pipe we never see; with
# --timeout ours relays the streams itself so that a side that stops
# answering (SIGSTOPped, found below the scp we started) ends the copy
# with a clear error, exit 1, in bounded time, nothing under the final
# name.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-faults.sh"

test_expect_success 'setup' '
	mkfile big 6000000 && mkfile small 1000
'

# -3 (two remotes): with --timeout the legacy streams are relayed through
# us, so a stalled side is noticed too; the copy itself is unchanged.
test_expect_success_ours 'legacy -3 --timeout: a normal copy is intact' '
	mkfile big40 40000000 && mkdir -p r3 && own_trash &&
	run_scp -O -3 --timeout 3 ours:$TRASH/big ours:$TRASH/small \
	    ours:$TRASH/r3/ &&
	cmp big r3/big && cmp small r3/small
'

for w in f t; do
	test_expect_success_ours "legacy -3: the scp -$w side stops answering" "
		rm -rf r3$w && mkdir -p r3$w &&
		t0=\$(now) &&
		bg_scp -O -3 -q --timeout 3 ours:\$TRASH/big40 \
		    ours:\$TRASH/r3$w/big40 &&
		wait_partial r3$w big40 1 50 && bg_snapshot &&
		stopped= &&
		for d in \$(descendants \$bgpid); do
			if [ \"\$(cat /proc/\$d/comm 2>/dev/null)\" = scp ] &&
			    grep -q -e -$w /proc/\$d/cmdline; then
				stopped=\$d
			fi
		done &&
		test -n \"\$stopped\" && kill -STOP \$stopped &&
		bg_wait 30 &&
		{ kill -KILL \$stopped; kill -CONT \$stopped; true; } 2>/dev/null &&
		test \"\$st\" = 1 && test \$((\$(now) - t0)) -lt 20 &&
		grep -q -i time err && test ! -e r3$w/big40 &&
		no_leftover_pids
	"
done

test_done
