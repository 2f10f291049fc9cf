#!/bin/sh
# A server no one here wrote: Dropbear (Debian dropbear-bin) on loopback
# (lib-peers.sh), both protocols and directions.  SFTP: Dropbear runs
# its compiled-in /usr/lib/sftp-server (OpenSSH's, through Debian's
# symlink) for the subsystem; -O: Dropbear runs `scp -t`/`-f` through
# the user's shell with PATH=/usr/bin:/bin, where our build is
# bind-mounted over /usr/bin/scp in Dropbear's mount namespace.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-peers.sh"

PEERCONF=$TRASH/ssh_config_peers

if ! [ -x /usr/sbin/dropbear ]; then
	test_skip 'Dropbear interop' 'dropbear-bin not installed (scripts/deps.sh)'
	test_done
fi

# Started here, not in a test body (a subshell), so that the EXIT trap
# knows the pid.
peers_ssh_config "$PEERCONF"
dropbear_start db >dropbear.start 2>&1
db_started=$?

test_expect_success 'setup: a Dropbear server on loopback' '
	cat dropbear.start && test $db_started = 0 &&
	mkfile f 300001 && : >empty && mktree tree &&
	timeout 30 ssh -F "$PEERCONF" db "readlink -f /usr/bin/scp" \
	    </dev/null >out &&
	test "$(cat out)" = /usr/bin/scp &&
	timeout 30 ssh -F "$PEERCONF" db "cmp /usr/bin/scp $SCP_REAL" </dev/null
'

for proto in sftp legacy; do
	opt=
	if [ $proto = legacy ]; then
		opt=-O
	fi

	test_expect_success "$proto: upload one file and an empty one" "
		run_peer $opt f empty db:$TRASH/ &&
		mkdir -p up.$proto && run_peer $opt f db:$TRASH/up.$proto/g &&
		cmp f up.$proto/g && cmp f $TRASH/f
	"

	test_expect_success "$proto: download one file" "
		mkdir -p down.$proto &&
		run_peer $opt db:$TRASH/f down.$proto/ &&
		cmp f down.$proto/f
	"

	test_expect_success "$proto: -r upload and download of a tree" "
		run_peer $opt -r tree db:$TRASH/tree.up.$proto &&
		same_tree tree tree.up.$proto &&
		run_peer $opt -r db:$TRASH/tree tree.down.$proto &&
		same_tree tree tree.down.$proto
	"

	test_expect_success "$proto: -p keeps modes and times" "
		mkfile pf.$proto 1000 && chmod 0640 pf.$proto &&
		set_times pf.$proto 1000000000 1100000000 &&
		run_peer $opt -p pf.$proto db:$TRASH/pf.$proto.up &&
		test_mode pf.$proto.up 640 &&
		test_mtime pf.$proto.up 1000000000 &&
		cmp pf.$proto pf.$proto.up
	"

	test_expect_success "$proto: home-relative path (Dropbear's home)" "
		run_peer $opt f db:home.$proto &&
		cmp f db.home/home.$proto &&
		run_peer $opt db:home.$proto back.$proto &&
		cmp f back.$proto
	"

	test_expect_success "$proto: a missing remote file is exit 1" "
		expect_rc 1 run_peer $opt db:$TRASH/nosuch nothere.$proto &&
		grep_err nosuch &&
		test ! -e nothere.$proto
	"

	test_expect_success "$proto: -3 between two Dropbear paths" "
		run_peer $opt -3 db:$TRASH/f db:$TRASH/relayed.$proto &&
		cmp f relayed.$proto
	"
done

test_done
