#!/bin/sh
# Faults in the SFTP -3 relay (src/xfer, many files in flight between the
# two servers): either side's sftp-server killed mid-copy, or stopped
# under --timeout.  Never lie (PROTOCOL.md section 1 "Exit status"): exit
# 1, the first file that did not arrive named ("copy ... interrupted"),
# every final name either absent or exactly its source, no process of
# ours left.  Copies are slowed with -l; the servers are
# found below the scp we started (lib-faults.sh), told apart by the host
# their ssh was started for ("ours" is the source, "openssh" the target).
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-faults.sh"

test_expect_success 'setup' '
	mkdir -p src && mkfile src/f1 2000000 && mkfile src/f2 2000000 &&
	mkfile src/f3 2000000 && mkfile src/f4 30000 && own_trash
'

# side_server HOST: the sftp-server below the ssh started for HOST (its
# argv ends "-- HOST sftp"), in $found.
side_server () {
	found=
	for _s in $(descendants "$bgpid"); do
		if [ "$(cat /proc/"$_s"/comm 2>/dev/null)" = ssh ] &&
		    tr "\\0" " " </proc/"$_s"/cmdline |
		    grep -q -e "-- $1 sftp *\$"; then
			found=$(find_desc "$_s" sftp-server)
			test -n "$found" && return 0
		fi
	done
	return 1
}

# wait_side HOST: side_server, waiting up to 10 s.
wait_side () {
	_n=100
	while [ "$_n" -gt 0 ]; do
		side_server "$1" && return 0
		sleep 0.1
		_n=$((_n - 1))
	done
	echo "no sftp-server below the ssh for $1" >&2
	return 1
}

# relay_checks: every target file is absent or whole, nothing is left.
relay_checks () {
	for _f in f1 f2 f3 f4; do
		no_partial_final "dst/src/$_f" "src/$_f" || return 1
	done
	no_leftover_pids
}

for side in ours openssh; do
	test_expect_success_ours "-3: the $side side's sftp-server killed mid-copy" "
		rm -rf dst && mkdir dst && own_trash &&
		bg_scp -3 -q -r -l 8000 ours:\$TRASH/src openssh:\$TRASH/dst/ &&
		wait_partial dst/src f1 200000 &&
		bg_snapshot && wait_side $side &&
		echo \"killing \$found\" >&2 && kill -KILL \$found &&
		bg_wait 30 &&
		test \"\$st\" = 1 &&
		grep -q 'src/f[1-4]\" to \".*\" interrupted' err &&
		! test -e dst/src/f1 &&
		relay_checks
	"
done

test_expect_success_ours '-3 --timeout: the target sftp-server stops answering' '
	rm -rf dst && mkdir dst && own_trash &&
	t0=$(now) &&
	bg_scp -3 -q -r -l 8000 --timeout 3 ours:$TRASH/src \
	    openssh:$TRASH/dst/ &&
	wait_partial dst/src f1 200000 &&
	bg_snapshot && wait_side openssh && stopped=$found &&
	kill -STOP $stopped &&
	bg_wait 30 &&
	{ kill -KILL $stopped; kill -CONT $stopped; true; } 2>/dev/null &&
	test "$st" = 1 && test $(($(now) - t0)) -lt 25 &&
	grep -q -i time err && grep -q " interrupted" err &&
	! test -e dst/src/f1 &&
	relay_checks
'

test_expect_success_ours '-3: a whole relay after the faults is intact' '
	rm -rf dst && mkdir dst && own_trash &&
	run_scp -3 -q -r ours:$TRASH/src openssh:$TRASH/dst/ &&
	diff -r src dst/src
'

test_done
