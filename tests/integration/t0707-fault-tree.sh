#!/bin/sh
# SIGTERM in the middle of a -r copy, both protocols and directions: the
# files already copied are whole under their final names, the one cut
# short is only a partial under its temporary name, exit 1, no process
# left (docs/protocol-scp.md "Writing").
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-faults.sh"

test_expect_success 'setup' '
	mkfile big 6000000
'

# -r: a tree whose middle file is being copied when SIGTERM comes.  Every
# file under its final name is whole; the one cut short is kept as a
# partial only.
test_expect_success 'setup: a tree' '
	mkdir -p tree/sub && mkfile tree/a 1000 && ln -f big tree/sub/m &&
	mkfile tree/z 1000
'

for p in sftp legacy; do
	o=
	if [ $p = legacy ]; then
		o=-O
	fi
	for d in down up; do
		# An SFTP upload to a new name builds .NAME.scp-dir and
		# renames it when whole: the partial is in there.
		w=r-$p-$d
		if [ $p$d = sftpup ]; then
			w=.r-$p-$d.scp-dir
		fi
		test_expect_success_ours "$p: SIGTERM during -r ${d}load" "
			rm -rf r-$p-$d &&
			if [ $d = down ]; then
				bg_scp $o -q -r -l 8000 ours:\$TRASH/tree r-$p-$d
			else
				bg_scp $o -q -r -l 8000 tree ours:\$TRASH/r-$p-$d
			fi &&
			wait_partial $w/sub m 300000 &&
			bg_snapshot && kill -TERM \$bgpid && bg_wait 20 &&
			test \"\$st\" = 1 && no_leftover_pids &&
			test ! -e $w/sub/m &&
			kept_partial $w/sub m big &&
			for f in \$(cd $w && find . -type f ! -name \".*\"); do
				cmp tree/\$f $w/\$f || exit 1
			done
		"
	done
done

# Resumed: the partial inside the temporary tree is continued and the
# tree published.
test_expect_success_ours 'sftp: -r upload resumed after SIGTERM' '
	test -d .r-sftp-up.scp-dir && test ! -e r-sftp-up &&
	run_scp --resume -q -r tree ours:$TRASH/r-sftp-up &&
	diff -r tree r-sftp-up && test ! -e .r-sftp-up.scp-dir
'


test_done
