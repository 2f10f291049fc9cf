#!/bin/sh
# The automatic legacy fallback (doc/scp.1 "-O"; src/cli/run.h above
# sftp_tap_open() for the signal): a server that refuses the sftp
# subsystem gets the operand again with the legacy protocol, said once;
# -s and a wrong key keep today's behaviour, -q falls back as silently
# as `ssh -q` would have failed.  Two such servers: an
# OpenSSH sshd without a Subsystem line ("subsystem request failed",
# ssh exits 255) and a Dropbear whose sftp-server is hidden ("sh: 1:
# /usr/lib/sftp-server: not found", ssh exits 127).  Both run our scp
# for -O.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-peers.sh"

PEERCONF=$TRASH/ssh_config_peers
MSG='retrying with the legacy SCP protocol (-O)'

peers_ssh_config "$PEERCONF"
sshd_nosftp_alias nos
db_started=1
if [ -x /usr/sbin/dropbear ]; then
	dropbear_start dbn nosftp >dropbear.start 2>&1
	db_started=$?
fi

# A config whose only key is not authorized (the host key).
cat >"$TRASH/ssh_config_wrongkey" <<EOF
Host nos
  ProxyCommand /usr/sbin/sshd -i -f $TRASH/sshd_nos
Host *
  User $TEST_USER
  IdentityFile $SCPTEST_RUNDIR/keys/host
  IdentitiesOnly yes
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
  LogLevel ERROR
  BatchMode yes
EOF

# once FILE: the fallback message is in FILE exactly once.
once () {
	_n=$(grep -c -F -e "$MSG" "${1:-err}" || true)
	if [ "$_n" != 1 ]; then
		echo "fallback message $_n times in ${1:-err}" >&2
		return 1
	fi
}

test_expect_success 'setup' '
	mkfile f 200003 && mkfile g 5 && mktree tree &&
	expect_rc 255 timeout 30 ssh -F "$PEERCONF" -s nos sftp &&
	grep_err "subsystem request failed"
'

hosts=nos
if [ "$db_started" = 0 ]; then
	hosts="nos dbn"
else
	test_skip 'Dropbear without sftp-server' "not started: $(cat dropbear.start 2>/dev/null)"
fi

for h in $hosts; do
	test_expect_success "$h: upload falls back, said once" "
		expect_rc 0 run_peer f g $h:$TRASH/ &&
		once && cmp f $TRASH/f && cmp g $TRASH/g &&
		mkdir -p up.$h && expect_rc 0 run_peer f $h:$TRASH/up.$h/x &&
		once && cmp f up.$h/x
	"

	test_expect_success "$h: download falls back, said once" "
		mkdir -p down.$h &&
		expect_rc 0 run_peer $h:$TRASH/f $h:$TRASH/g down.$h/ &&
		once && cmp f down.$h/f && cmp g down.$h/g
	"

	test_expect_success "$h: -r both ways falls back" "
		expect_rc 0 run_peer -r tree $h:$TRASH/tree.up.$h &&
		once && same_tree tree tree.up.$h &&
		expect_rc 0 run_peer -r $h:$TRASH/tree tree.down.$h &&
		once && same_tree tree tree.down.$h
	"

	test_expect_success "$h: -3 falls back" "
		expect_rc 0 run_peer -3 $h:$TRASH/f $h:$TRASH/relay.$h &&
		once && cmp f relay.$h
	"

	# Dropbear's refusal is the server's stderr, which -q does not
	# silence (so neither does the tap); sshd's is ssh's own line,
	# which -q does (below).
	if [ $h = dbn ]; then
		test_expect_success "$h: -q falls back silently" "
			expect_rc 0 run_peer -q f $h:$TRASH/quiet.$h &&
			! grep -F -e '$MSG' err && cmp f quiet.$h &&
			grep_err sftp-server
		"
	fi

	test_expect_success "$h: -s does not fall back" "
		expect_rc 255 run_peer -s f $h:$TRASH/forced.$h &&
		! grep -F -e '$MSG' err && test ! -e forced.$h &&
		expect_rc 255 run_peer -s $h:$TRASH/f forced.$h &&
		! grep -F -e '$MSG' err && test ! -e forced.$h
	"

	test_expect_success "$h: a missing file after the fallback is exit 1" "
		expect_rc 1 run_peer $h:$TRASH/nosuch nothere.$h &&
		once && grep_err nosuch && test ! -e nothere.$h
	"
done

# -q: ssh -q would print nothing when sshd refuses; a watched ssh gets
# -oLogLevel=FATAL instead and the tap drops ssh's own lines (run.h):
# the copy falls back, and says no more than under -q before.
test_expect_success 'nos: -q falls back, ssh silent, no message' '
	expect_rc 0 run_peer -q g nos:$TRASH/q2 && cmp g q2 &&
	! grep -F -e "$MSG" err && ! grep_err "request failed" &&
	mkdir -p q.down &&
	expect_rc 0 run_peer -q nos:$TRASH/f nos:$TRASH/g q.down/ &&
	cmp f q.down/f && cmp g q.down/g &&
	! grep -F -e "$MSG" err && ! grep_err "request failed" &&
	expect_rc 0 run_peer -q -3 nos:$TRASH/f nos:$TRASH/q3 && cmp f q3 &&
	! grep -F -e "$MSG" err && ! grep_err "request failed" &&
	expect_rc 0 run_peer -q -r tree nos:$TRASH/tree.q &&
	same_tree tree tree.q && ! grep_err "request failed"
'

test_expect_success 'nos: -q -s does not fall back, says nothing more' '
	expect_rc 255 run_peer -q -s g nos:$TRASH/q4 && test ! -e q4 &&
	! grep -F -e "$MSG" err && ! grep_err "request failed"
'

# A LogLevel of the user's own wins over ours (sshargs.c): QUIET hides
# the refusal again, so 255 as with -q before; ERROR shows nothing more
# under -q (the tap drops ssh's lines) and falls back.
test_expect_success 'nos: -q with the user'"'"'s own LogLevel' '
	expect_rc 255 run_peer -q -o LogLevel=QUIET g nos:$TRASH/q5 &&
	test ! -e q5 && ! grep_err "request failed" &&
	expect_rc 0 run_peer -q -o LogLevel=DEBUG g nos:$TRASH/q6 &&
	cmp g q6 && ! grep_err "request failed" && ! grep_err "debug1"
'

test_expect_success '-q: a wrong key fails at once with 255, silent, no retry' '
	start=$(now) &&
	expect_rc 255 timeout -k 5 60 "$SCP" -q -F "$TRASH/ssh_config_wrongkey" \
	    f nos:$TRASH/wkq </dev/null &&
	! grep_err "Permission denied" &&
	! grep -F -e "$MSG" err && test ! -e wkq &&
	expect_rc 255 timeout -k 5 60 "$SCP" -q -F "$TRASH/ssh_config_wrongkey" \
	    nos:$TRASH/f wkq </dev/null &&
	! grep_err "Permission denied" &&
	! grep -F -e "$MSG" err && test ! -e wkq &&
	test $(($(now) - start)) -lt 10
'

test_expect_success 'a wrong key fails at once with 255, no retry' '
	start=$(now) &&
	expect_rc 255 timeout -k 5 60 "$SCP" -F "$TRASH/ssh_config_wrongkey" \
	    f nos:$TRASH/wk </dev/null &&
	grep_err "Permission denied" &&
	! grep -F -e "$MSG" err && test ! -e wk &&
	expect_rc 255 timeout -k 5 60 "$SCP" -F "$TRASH/ssh_config_wrongkey" \
	    nos:$TRASH/f wk </dev/null &&
	! grep -F -e "$MSG" err && test ! -e wk &&
	test $(($(now) - start)) -lt 10
'

test_expect_success 'no such host: 255, no retry' '
	expect_rc 255 run_peer -o ProxyCommand=none -P "$(free_port)" \
	    f 127.0.0.1:$TRASH/nohost &&
	! grep -F -e "$MSG" err
'

test_expect_success 'a server with SFTP says nothing of the fallback' '
	run_scp f ours:$TRASH/plain 2>err && ! grep -F -e "$MSG" err &&
	cmp f plain
'

test_done
