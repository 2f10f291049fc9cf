#!/bin/sh
# Terminal escape sequences in every string a legacy server can send
# (CVE-2019-6110; PROTOCOL.md §2 "Error reporting"): \1 error lines,
# names refused in messages, the first-record text, modes, sizes, T
# records, garbage after a good file, a \1 final status.  Every case
# fails cleanly (no timeout), writes nothing outside the target, and no
# raw ESC, BEL or 8-bit CSI byte reaches stderr.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-faults.sh"

HOSTILE=$FIXTURES/hostile-legacy-ssh.sh

# esc MODE REQUEST [OPTIONS]: download REQUEST from the hostile source in
# MODE into $TRASH/MODE/target (inside the sentinel $TRASH/MODE).
esc () {
	_m=$1 _req=$2
	shift 2
	rm -rf "${TRASH:?}/$_m" && sentinel "$TRASH/$_m" &&
	mkdir -p "$TRASH/$_m/target" || return 1
	SCPTEST_MODE=$_m
	export SCPTEST_MODE
	SCPTEST_TIMEOUT=30 expect_fail run_scp -O -S "$HOSTILE" "$@" \
	    "fake:$_req" "$TRASH/$_m/target" || return 1
	check_sentinel "$TRASH/$_m" &&
	no_raw_escapes err &&
	test -s err
}

test_expect_success 'C name ../ESC...: refused, shown escaped' '
	esc esc-dotdot "*" &&
	grep_err "unexpected filename" && grep_err "\\033[31m" &&
	test -z "$(ls -A esc-dotdot/target)"
'

test_expect_success 'D name a/ESC... with -r: refused, shown escaped' '
	esc esc-slash-dir "*" -r &&
	grep_err "unexpected filename" &&
	test -z "$(ls -A esc-slash-dir/target)"
'

test_expect_success 'D record with ESC in its name, without -r' '
	esc esc-dir-no-r "*" &&
	grep_err "received directory without -r" &&
	test -z "$(ls -A esc-dir-no-r/target)"
'

test_expect_success 'first record is text with escapes' '
	esc esc-first x &&
	grep_err "No match." && grep_err "\\033[31m"
'

test_expect_success 'escape inside a mode' '
	esc esc-mode m && test -z "$(ls -A esc-mode/target)"
'

test_expect_success 'escape inside a size' '
	esc esc-size m && test -z "$(ls -A esc-size/target)"
'

test_expect_success 'unrequested name with escapes' '
	esc esc-unrequested wanted &&
	grep_err "filename does not match request" &&
	test -z "$(ls -A esc-unrequested/target)"
'

test_expect_success 'T record with escapes' '
	esc esc-t x && test -z "$(ls -A esc-t/target)"
'

test_expect_success 'garbage with escapes after a good file' '
	esc esc-later "*" &&
	test "$(cat esc-later/target/good)" = xxxxx
'

test_expect_success 'a \1 final status with escapes drops the file' '
	esc esc-err-data derr &&
	grep_err "\\033[31mRED" &&
	test ! -e esc-err-data/target/derr
'

test_expect_success 'BEL, ESC c, CSI 2J and an 8-bit CSI in a \1 line' '
	esc esc-bell x &&
	grep_err "\\007"
'

test_done
