#!/bin/sh
# SIGINT and SIGTERM mid-file, both protocols, both directions
# (PROTOCOL.md §1 "Exit status": kill the ssh children, exit 1).  Ours
# also promises (docs/protocol-scp.md "Writing"): nothing under the
# final name, the partial kept under its temporary name as a prefix of
# the source, a message naming the file, no process left.  scp runs with
# default signal dispositions (a background job of sh would inherit
# SIGINT ignored, which we honour, as for nohup).
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-faults.sh"

test_expect_success 'setup' '
	mkfile big 6000000
'

# sig_case PROTO DIR SIG: interrupt a copy of big once 300 kB arrived.
sig_case () {
	_o=
	if [ "$1" = legacy ]; then
		_o=-O
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
	kill -"$3" "$bgpid"
	bg_wait 20
}

for p in sftp legacy; do
	for sig in INT TERM; do
		for d in down up; do
			test_expect_success_ours "$p: SIG$sig during $d""load" "
				sig_case $p $d $sig &&
				test \"\$st\" = 1 &&
				test ! -e $p-$d-$sig &&
				no_leftover_pids &&
				grep -q $p-$d-$sig err &&
				kept_partial . $p-$d-$sig big
			"
		done
	done
done

# Before the first byte: the signal lands while the session is being set
# up (a transport that never answers).  Still exit 1, not SFTP's 255 for
# a failed setup, and no raw "Interrupted system call".
test_expect_success 'setup: a silent transport' '
	printf "#!/bin/sh\nexec cat >/dev/null\n" >silent-ssh &&
	chmod 755 silent-ssh && mkfile small 100
'

for p in sftp legacy; do
	o=
	if [ $p = legacy ]; then
		o=-O
	fi
	for d in down up; do
		test_expect_success "$p: SIGINT while connecting, ${d}load" "
			if [ $d = down ]; then
				bg_scp $o -S ./silent-ssh x:small conn-$p
			else
				bg_scp $o -S ./silent-ssh small x:conn-$p
			fi &&
			wait_desc \$bgpid cat 50 && bg_snapshot &&
			kill -INT \$bgpid && bg_wait 20 &&
			test \"\$st\" = 1 && no_leftover_pids &&
			! grep -q 'Interrupted system call' err &&
			test ! -e conn-$p
		"
	done
done

test_done
