#!/bin/sh
# A server that stops answering mid-file (its process SIGSTOPped, found
# below the scp we started): with --timeout 3 (as rsync's) the copy ends
# with a clear error instead of hanging, both protocols, both directions,
# and keeps the promises of t0701 (exit 1, nothing under the final name,
# the partial kept, no process left).
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-faults.sh"

test_expect_success 'setup' '
	mkfile big 6000000 && mkfile small 1000
'

# stall_case PROTO DIR: stop the server once 300 kB arrived; the time
# the copy took in total is left in $took.
stall_case () {
	_o=
	_srv=sftp-server
	if [ "$1" = legacy ]; then
		_o=-O
		_srv=scp
	fi
	name=$1-$2-stall
	rm -f "$name" ".$name".*
	ln -f big "src-$name"
	_t0=$(now)
	if [ "$2" = down ]; then
		bg_scp $_o -q -l 8000 --timeout 3 "ours:$TRASH/src-$name" \
		    "$name"
	else
		bg_scp $_o -q -l 8000 --timeout 3 "src-$name" \
		    "ours:$TRASH/$name"
	fi
	wait_partial "$TRASH" "$name" 300000 || return 1
	bg_snapshot
	wait_desc "$bgpid" "$_srv" 10 || return 1
	_stopped=$found
	kill -STOP "$_stopped"
	bg_wait 30
	took=$(($(now) - _t0))
	echo "took $took s" >&2
	# The stopped server would wait forever.
	kill -KILL "$_stopped" 2>/dev/null
	kill -CONT "$_stopped" 2>/dev/null
	return 0
}

for p in sftp legacy; do
	for d in down up; do
		test_expect_success_ours "$p: ${d}load, server stops answering" "
			stall_case $p $d &&
			test \"\$st\" = 1 &&
			test \$took -lt 20 &&
			grep -q -i 'time' err &&
			grep -q $p-$d-stall err &&
			test ! -e $p-$d-stall &&
			kept_partial . $p-$d-stall big &&
			no_leftover_pids
		"
	done
done

# A transport that connects and then never says a word (nor exits while
# its input is open): every phase, before the first byte too.
test_expect_success 'setup: a silent ssh' '
	printf "#!/bin/sh\nexec cat >/dev/null\n" >silent-ssh &&
	chmod 755 silent-ssh
'

# SFTP mode: no VERSION is a failed connection setup, fatal (255) as in
# OpenSSH; the legacy protocol counts it as a lost connection (1).
for p in sftp legacy; do
	o=
	rc=255
	if [ $p = legacy ]; then
		o=-O
		rc=1
	fi
	test_expect_success_ours "$p: silent transport, download, --timeout 3" "
		t0=\$(now) &&
		expect_rc $rc run_scp $o -S ./silent-ssh --timeout 3 x:small sil-$p &&
		test \$((\$(now) - t0)) -lt 20 &&
		grep -q -i time err && test ! -e sil-$p
	"
	test_expect_success_ours "$p: silent transport, upload, --timeout 3" "
		t0=\$(now) &&
		expect_rc $rc run_scp $o -S ./silent-ssh --timeout 3 small x:sil &&
		test \$((\$(now) - t0)) -lt 20 &&
		grep -q -i time err
	"
done

test_done
