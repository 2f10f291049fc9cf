#!/bin/sh
# Hostile legacy peers (PROTOCOL.md §2 "Sink": CVE-2018-20685 name checks,
# CVE-2019-6111 request check, CVE-2019-6110 escaped messages, strict
# T/C/D parsing).  tests/fixtures/fake-ssh.sh plays the peer; every case
# must end with a non-zero exit status, no timeout, no raw terminal
# escape on stderr, and nothing written outside (or, for the refused
# record, inside) the target directory: each case gets a sentinel parent
# directory that must stay empty.
. "$(dirname "$0")/lib.sh"

FAKE=$FIXTURES/fake-ssh.sh
ESC=$(printf '\033')
BEL=$(printf '\007')

# hostile MODE CHECK_EMPTY ARGS...: run the client against fake-ssh in
# MODE inside $TRASH/MODE/target; ARGS are scp arguments placed before
# the remote operand (which is fake:REQUEST, with REQUEST from $REQ).
# CHECK_EMPTY=1 also requires the target directory to stay empty.
hostile () {
	_mode=$1 _empty=$2
	shift 2
	rm -rf "${TRASH:?}/$_mode" &&
	sentinel "$TRASH/$_mode" &&
	mkdir -p "$TRASH/$_mode/target" || return 1
	SCPTEST_MODE=$_mode SCPTEST_ABS=$TRASH/$_mode/abs-pwned \
	    SCPTEST_FAKELOG=$TRASH/$_mode.fakelog
	export SCPTEST_MODE SCPTEST_ABS SCPTEST_FAKELOG
	SCPTEST_TIMEOUT=30
	expect_fail run_scp -O -S "$FAKE" "$@" "fake:${REQ:-*}" \
	    "$TRASH/$_mode/target" || return 1
	check_sentinel "$TRASH/$_mode" || return 1
	if [ "$_empty" = 1 ] && [ -n "$(ls -A "$TRASH/$_mode/target")" ]; then
		echo "target not empty:" $(ls -A "$TRASH/$_mode/target") >&2
		return 1
	fi
	no_raw_escapes err
}

# no_raw_escapes FILE: no ESC or BEL byte reached the terminal.
no_raw_escapes () {
	if grep -q "[$ESC$BEL]" "$1"; then
		echo "raw escape bytes in $1" >&2
		return 1
	fi
}

for m in dotdot slash abs dot-file dotdot-file empty size-2p63 size-huge \
    size-neg mode-bad mode-short mode-nospace first-garbage long-line \
    no-ack-byte; do
	test_expect_success "download, record $m: refused, nothing written" "
		hostile $m 1
	"
done

for m in dotdot slash abs dot-file dotdot-file empty; do
	test_expect_success "download -r, record $m: refused" "
		hostile $m 1 -r
	"
done

test_expect_success 'download -r, D record ".": refused' '
	hostile dot-dir 1 -r &&
	test ! -e dot-dir/target/x
'

test_expect_success 'download -r, D record "..": nothing in the parent' '
	hostile dotdot-dir 1 -r &&
	test ! -e dotdot-dir/pwned
'

test_expect_success 'unrequested file name for a plain download: refused' '
	REQ=wanted hostile unrequested 1 &&
	grep_err "filename does not match request"
'

test_expect_success 'unrequested file name with a glob request: refused' '
	REQ="want*" hostile unrequested 1
'

test_expect_success '-T turns the request check off (name still checked)' '
	mkdir -p tt &&
	SCPTEST_MODE=unrequested && export SCPTEST_MODE &&
	run_scp -O -T -S "$FAKE" fake:wanted tt &&
	test "$(cat tt/other)" = xxxxx &&
	SCPTEST_MODE=dotdot && export SCPTEST_MODE && sentinel tt2 &&
	mkdir -p tt2/target &&
	expect_fail run_scp -O -T -S "$FAKE" fake:wanted tt2/target &&
	check_sentinel tt2 && test -z "$(ls -A tt2/target)"
'

test_expect_success 'D record without -r: refused' '
	hostile dir-no-r 1 &&
	grep_err "received directory without -r"
'

test_expect_success 'size 2^63: size out of range' '
	hostile size-2p63 1 &&
	grep_err "size out of range"
'

test_expect_success 'T line with garbage: protocol error, nothing written' '
	hostile t-garbage 1 &&
	grep_err "protocol error"
'

test_expect_success 'T line too short: protocol error' '
	hostile t-short 1 &&
	grep_err "protocol error"
'

test_expect_success 'T line usec out of range: protocol error' '
	hostile t-usec 1 &&
	grep_err "protocol error"
'

test_expect_success 'error message with terminal escapes is shown escaped' '
	hostile err-escape 1 &&
	grep_err "evil" && grep_err "\\033[31mRED"
'

test_expect_success 'fatal message with terminal escapes is shown escaped' '
	hostile fatal-escape 1 &&
	grep_err "fatal" && grep_err "\\033[31mRED"
'

test_expect_success 'first record not C/D/T: shown, exit 1' '
	hostile first-garbage 1 &&
	grep_err "No match."
'

test_expect_success 'data shorter than the size: error, not a hang' '
	hostile short-data 0
'

test_expect_success 'E at top level ends the session; later file not taken' '
	hostile e-top 1
'

# The client as the source, against a hostile sink.
hostile_up () {
	_mode=$1
	shift
	mkfile "$TRASH/upsrc" 100 &&
	SCPTEST_MODE=$_mode && export SCPTEST_MODE &&
	SCPTEST_TIMEOUT=30 &&
	expect_fail run_scp -O -S "$FAKE" "$@" "$TRASH/upsrc" fake:x &&
	no_raw_escapes err
}

test_expect_success 'upload, sink answers a fatal error: exit 1, escaped' '
	hostile_up up-fatal &&
	grep_err "no way" && grep_err "\\033[1mBOLD"
'

test_expect_success 'upload, sink ready byte is garbage: error, no hang' '
	hostile_up up-garbage
'

test_expect_success 'upload, sink closes at once: error, no hang' '
	hostile_up up-eof
'

test_expect_success 'upload, sink refuses the file with escapes: escaped' '
	hostile_up up-err-escape &&
	grep_err "refused" && grep_err "\\033[31mRED"
'

test_done
