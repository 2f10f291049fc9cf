#!/bin/sh
# A hostile remote `scp` behind a real sshd: our own copy of the sshd
# config puts $TRASH/hbin first on the remote PATH, where `scp` is a
# script playing a hostile stream (hostile-legacy-ssh.sh or fake-ssh.sh,
# mode read from $TRASH/hmode).  Same promises as t0301/t0802, through
# ssh: non-zero exit, nothing outside the target, no raw escape bytes on
# stderr from the protocol stream.  (The remote's own stderr is passed
# through by ssh untouched, as in OpenSSH; the script writes none.)
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-faults.sh"

HCONF=$TRASH/ssh_config_hostile

test_expect_success 'setup: sshd with a hostile scp first on PATH' '
	mkdir -p hbin &&
	cp "$FIXTURES/hostile-legacy-ssh.sh" "$FIXTURES/fake-ssh.sh" hbin/ &&
	cat >hbin/scp <<-EOS &&
	#!/bin/sh
	mode=\$(head -n 1 $TRASH/hmode)
	case \$mode in
	esc-*|plant-*|size-max|deep|many-t)
		SCPTEST_MODEFILE=$TRASH/hmode SCPTEST_SYNC=$TRASH/hsync
		export SCPTEST_MODEFILE SCPTEST_SYNC
		exec sh $TRASH/hbin/hostile-legacy-ssh.sh ;;
	*)	SCPTEST_MODE=\$mode SCPTEST_ABS=$TRASH/abs-pwned
		export SCPTEST_MODE SCPTEST_ABS
		exec sh $TRASH/hbin/fake-ssh.sh ;;
	esac
	EOS
	chmod 755 hbin hbin/* &&
	sed "s#^SetEnv PATH=.*#SetEnv PATH=$TRASH/hbin:/usr/bin:/bin#" \
	    "$SCPTEST_RUNDIR/sshd_ours" >sshd_hostile &&
	grep -q "hbin" sshd_hostile &&
	{ printf "Host hostile\n  ProxyCommand /usr/sbin/sshd -i -f %s\n" \
	    "$TRASH/sshd_hostile"; cat "$SSHCONF"; } >"$HCONF" &&
	echo good-file >hmode &&
	mkdir -p g && own_trash &&
	timeout 30 "$SCP" -F "$HCONF" -O hostile:good g </dev/null &&
	test "$(cat g/good)" = xxxxx
'

# hs MODE REQUEST [OPTIONS]: download from the hostile remote in MODE into
# $TRASH/h-MODE/target (inside a sentinel).
hs () {
	_m=$1 _req=$2
	shift 2
	echo "$_m" >hmode
	rm -rf "${TRASH:?}/h-$_m" && sentinel "$TRASH/h-$_m" &&
	mkdir -p "$TRASH/h-$_m/target" && own_trash || return 1
	echo "+ scp -F hostile $* hostile:$_req" >&2
	expect_fail timeout -k 5 30 "$SCP" -F "$HCONF" -O "$@" \
	    "hostile:$_req" "$TRASH/h-$_m/target" || return 1
	check_sentinel "$TRASH/h-$_m" &&
	test ! -e "$TRASH/abs-pwned" &&
	no_raw_escapes err
}

for m in dotdot slash abs dot-file dotdot-file empty size-2p63 size-neg \
    mode-bad first-garbage long-line no-ack-byte esc-dotdot esc-first \
    esc-mode esc-size esc-t esc-bell; do
	test_expect_success "real sshd, remote scp plays $m: refused" "
		hs $m '*' &&
		test -z \"\$(ls -A h-$m/target)\"
	"
done

for m in dotdot-dir dot-dir esc-slash-dir; do
	test_expect_success "real sshd, -r, remote scp plays $m: refused" "
		hs $m '*' -r &&
		test -z \"\$(ls -A h-$m/target)\"
	"
done

test_expect_success 'real sshd: unrequested name refused' '
	hs unrequested wanted &&
	grep_err "filename does not match request"
'

test_expect_success 'real sshd: escapes in \1 and \2 messages' '
	hs err-escape x && grep_err "\\033[31mRED" &&
	hs fatal-escape x && grep_err "\\033[31mRED"
'

test_expect_success 'real sshd: size 2^63-1 with 5 bytes' '
	hs size-max big && test ! -e h-size-max/target/big
'

test_expect_success 'real sshd: 5000 nested D records' '
	hs deep d -r &&
	grep_err "too deep"
'

test_expect_success 'real sshd: data shorter than the size keeps nothing final' '
	hs short-data short && test ! -e h-short-data/target/short
'

# Uploads: the hostile remote plays the sink.
test_expect_success 'real sshd: upload, sink answers fatal with escapes' '
	for m in up-fatal up-garbage up-eof up-err-escape; do
		echo $m >hmode && mkfile upsrc 100 && own_trash &&
		expect_fail timeout -k 5 30 "$SCP" -F "$HCONF" -O upsrc \
		    hostile:x </dev/null &&
		no_raw_escapes err || return 1
	done
'

test_done
