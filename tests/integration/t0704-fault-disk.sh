#!/bin/sh
# A full disk, both protocols, both directions: a 2 MB tmpfs mounted in
# the scratch directory (local target for downloads, remote target for
# uploads) receives a 3 MB file.  Exit 1, the message names the file, no
# file under the final name with partial content (the partial, if kept
# for --resume, is a prefix of the source); a file that fits and comes
# first still arrives intact.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-faults.sh"

FULL=$TRASH/full
cleanup_mount () {
	cd / && umount "$FULL" 2>/dev/null || umount -l "$FULL" 2>/dev/null
	return 0
}
trap cleanup_mount EXIT

test_expect_success 'setup: 2 MB tmpfs' '
	mkfile big 3000000 &&
	mkfile small 1000 &&
	mkdir -p "$FULL" &&
	mount -t tmpfs -o size=2m,mode=0777 tmpfs "$FULL"
'

# full_case PROTO DIR: copy small then big into the full file system.
full_case () {
	_o=
	if [ "$1" = legacy ]; then
		_o=-O
	fi
	rm -rf "${FULL:?}"/* "$FULL"/.[!.]* 2>/dev/null
	if [ "$2" = down ]; then
		expect_rc 1 run_scp $_o "ours:$TRASH/small" "ours:$TRASH/big" \
		    "$FULL/"
	else
		expect_rc 1 run_scp $_o small big "ours:$FULL/"
	fi
}

for p in sftp legacy; do
	for d in down up; do
		# sftp-server reports ENOSPC as a bare SSH2_FX_FAILURE.
		space="grep -q -i space err"
		if [ $p$d = sftpup ]; then
			space=:
		fi
		test_expect_success_ours "$p: ${d}load into a full disk" "
			full_case $p $d &&
			grep_err big &&
			$space &&
			no_partial_final $FULL/big big &&
			test ! -e $FULL/big &&
			cmp small $FULL/small &&
			if f=\$(partial_of $FULL big) && test -n \"\$f\"; then
				is_prefix \"\$f\" big
			fi
		"
	done
done

test_expect_success 'cleanup: unmount' '
	cleanup_mount &&
	! mountpoint -q "$FULL"
'

test_done
