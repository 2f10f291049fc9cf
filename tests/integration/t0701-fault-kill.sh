#!/bin/sh
# Faults mid-file, both protocols, both directions: the ssh child killed,
# the remote server process (sftp-server or scp -f/-t) killed.  Never
# lie, never lose data (docs/protocol-scp.md "Writing", PROTOCOL.md §1
# "Exit status": a lost connection is exit 1): the exit status is 1, the
# message names the file that did not arrive, nothing sits under the
# final name unless it is complete and right, the partial data stays
# under its temporary name as a prefix of the source, and no process of
# ours is left behind.  Copies are slowed with -l; processes are found
# below the scp we started (lib-faults.sh), never by name.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-faults.sh"

test_expect_success 'setup' '
	mkfile big 6000000
'

# fault_case PROTO DIR WHAT: PROTO sftp|legacy, DIR down|up, WHAT
# ssh|server.  Leaves $name (the final name, in $TRASH) for the checks.
fault_case () {
	_o=
	_srv=sftp-server
	if [ "$1" = legacy ]; then
		_o=-O
		_srv=scp
	fi
	name=$1-$2-$3
	rm -f "$name" ".$name".*
	ln -f big "src-$name"
	if [ "$2" = down ]; then
		bg_scp $_o -q -l 8000 "ours:$TRASH/src-$name" "$name"
	else
		bg_scp $_o -q -l 8000 "src-$name" "ours:$TRASH/$name"
	fi
	wait_partial "$TRASH" "$name" 300000 || return 1
	bg_snapshot
	if [ "$3" = ssh ]; then
		wait_desc "$bgpid" ssh 10 || return 1
	else
		wait_desc "$bgpid" "$_srv" 10 || return 1
	fi
	echo "killing $found: $(tr "\\0" " " </proc/"$found"/cmdline)" >&2
	kill -KILL "$found"
	bg_wait 20
}

# fault_checks: the common promises after fault_case.
fault_checks () {
	test "$st" = 1 &&
	no_partial_final "$name" big &&
	no_leftover_pids &&
	! grep -q "usage:" err
}

for p in sftp legacy; do
	for w in ssh server; do
		test_expect_success_ours "$p: download, $w killed mid-file" "
			fault_case $p down $w &&
			fault_checks &&
			test ! -e $p-down-$w &&
			grep -q $p-down-$w err &&
			kept_partial . $p-down-$w big
		"
		test_expect_success_ours "$p: upload, $w killed mid-file" "
			fault_case $p up $w &&
			fault_checks &&
			test ! -e $p-up-$w &&
			grep -q $p-up-$w err &&
			kept_partial . $p-up-$w big
		"
	done
done

test_done
