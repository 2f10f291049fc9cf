#!/bin/sh
# Symlinks planted in the target tree while a -r download runs (the
# server, or anyone sharing the directory, races the sink): a hostile
# legacy source (tests/fixtures/hostile-legacy-ssh.sh) sends D dir, waits
# while the test plants a symlink, then sends the file.  Nothing may be
# written outside the target (HACKING.md: openat + O_NOFOLLOW relative to
# the directory fd), whatever the exit status.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-faults.sh"

HOSTILE=$FIXTURES/hostile-legacy-ssh.sh

# plant MODE [OPTIONS]: start the download of MODE into $TRASH/MODE/target, wait
# for the D record, run plant_$MODE, let the source go on.
plant () {
	_m=$1
	shift
	rm -rf "${TRASH:?}/$_m" && mkdir -p "$TRASH/$_m/target" \
	    "$TRASH/$_m/sync" && sentinel "$TRASH/$_m/outside" &&
	echo victim >"$TRASH/$_m/outside/victim" || return 1
	SCPTEST_MODE=$_m SCPTEST_SYNC=$TRASH/$_m/sync
	export SCPTEST_MODE SCPTEST_SYNC
	bg_scp -O -r -S "$HOSTILE" "$@" fake:dir "$TRASH/$_m/target"
	_n=0
	while [ ! -e "$TRASH/$_m/sync/ready" ]; do
		if [ $_n -ge 100 ]; then
			echo "the source never reached its sync point" >&2
			return 1
		fi
		sleep 0.1
		_n=$((_n + 1))
	done
	plant_action "$_m" "$TRASH/$_m/target/dir" "$TRASH/$_m/outside" ||
	    return 1
	: >"$TRASH/$_m/sync/go"
	bg_wait 30
	test "$st" -lt 124 || return 1
	# Nothing new outside, and the victim is unchanged.
	test "$(cat "$TRASH/$_m/outside/victim")" = victim &&
	(cd "$TRASH/$_m/outside" && test -z "$(find . ! -name . \
	    ! -name .marker ! -name victim)")
}

# plant_action MODE DIR OUTSIDE: the planting for MODE.
plant_action () {
	case $1 in
	plant-file)	ln -s "$3/victim" "$2/x" ;;
	plant-temp)	ln -s "$3/victim" "$2/.x.scp-part" ;;
	plant-dir)	mv "$2" "$2.moved" && ln -s "$3" "$2" ;;
	plant-subdir)	ln -s "$3" "$2/sub" ;;
	esac
}

test_expect_success 'a symlink planted where the file goes is replaced' '
	plant plant-file &&
	test "$st" = 0 &&
	test ! -L plant-file/target/dir/x &&
	test "$(cat plant-file/target/dir/x)" = xxxxx
'

test_expect_success 'a symlink planted at the temporary name is not followed' '
	plant plant-temp &&
	if [ "$st" = 0 ]; then
		test "$(cat plant-temp/target/dir/x)" = xxxxx
	fi
'

test_expect_success 'the directory swapped for a symlink: nothing outside' '
	plant plant-dir &&
	if [ "$st" = 0 ]; then
		test "$(cat plant-dir/target/dir.moved/x)" = xxxxx
	fi
'

test_expect_success 'a symlink planted where a D record goes: refused' '
	plant plant-subdir &&
	test "$st" = 1 &&
	test -L plant-subdir/target/dir/sub
'

test_expect_success '--inplace: a symlink planted where the file goes' '
	plant plant-file --inplace &&
	if [ "$st" = 0 ]; then
		test ! -L plant-file/target/dir/x
	fi
'

test_expect_success '-p: a symlink planted where the file goes' '
	plant plant-file -p &&
	test "$st" = 0 && test ! -L plant-file/target/dir/x
'

test_done
