# Integration test library (POSIX sh), sourced by every t*.sh.
#
# A test script does:
#	. "$(dirname "$0")/lib.sh"
#	test_expect_success 'description' '
#		mkfile a 1000 &&
#		run_scp -O a ours:$TRASH/b &&
#		cmp a b
#	'
#	test_done
#
# Environment:
#	SCP		binary under test (default <repo>/build/scp)
#	SCPTEST_RUNDIR	run directory shared by all scripts of one run (made
#			by run.sh; a script run alone makes and removes its own)
#	SCPTEST_REFERENCE=1  treat $SCP as the reference implementation (set
#			automatically when $SCP is /usr/bin/scp): tests marked
#			with test_expect_success_ours become TAP TODO
#	SCPTEST_VERBOSE=1  show every test's output, not only failures
#	SCPTEST_TIMEOUT	seconds one scp invocation may take (default 120)
#
# Remote side: the same machine, through "ProxyCommand sshd -i" (no daemon,
# no port), logging in as the unprivileged user scptest.  Host aliases in
# $SSHCONF:
#	ours	remote PATH starts with a directory whose scp is $SCP
#	openssh	remote PATH=/usr/bin:/bin, so the remote scp is OpenSSH's
#	::1, 127.0.0.1, localhost  same as ours (for [::1]: operands)
# Each test script gets its own scratch directory $TRASH (owned by scptest
# so the remote side can write there); the test bodies run with $TRASH as
# cwd and use absolute $TRASH/... paths for remote operands.

# --- locations --------------------------------------------------------

TEST_DIRECTORY=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$TEST_DIRECTORY/../.." && pwd)
FIXTURES=$REPO/tests/fixtures
TEST_NAME=$(basename "$0" .sh)

: "${SCP:=$REPO/build/scp}"
case $SCP in
/*) ;;
*) SCP=$(pwd)/$SCP ;;
esac
SCP_REAL=$(readlink -f "$SCP" 2>/dev/null || echo "$SCP")
if [ -z "${SCPTEST_REFERENCE:-}" ]; then
	if [ "$SCP_REAL" = /usr/bin/scp ]; then
		SCPTEST_REFERENCE=1
	else
		SCPTEST_REFERENCE=0
	fi
fi
export SCP SCPTEST_REFERENCE

: "${SCPTEST_TIMEOUT:=120}"
TEST_USER=scptest
TEST_HOME=$(getent passwd "$TEST_USER" | cut -d: -f6)

# --- run directory (shared keys and configs) --------------------------

# scptest_setup_run: create keys and configs in $SCPTEST_RUNDIR once.
# Several scripts may call it at the same time; a mkdir lock serialises.
scptest_setup_run () {
	_rd=$SCPTEST_RUNDIR
	if [ -f "$_rd/.setup.done" ]; then
		return 0
	fi
	while ! mkdir "$_rd/.setup.lock" 2>/dev/null; do
		sleep 1
	done
	if [ -f "$_rd/.setup.done" ]; then
		rmdir "$_rd/.setup.lock"
		return 0
	fi
	mkdir -p /run/sshd
	mkdir -p "$_rd/keys" "$_rd/bin-ours" "$_rd/logs" &&
	chmod 0755 "$_rd" "$_rd/keys" "$_rd/bin-ours" &&
	rm -f "$_rd/keys/host" "$_rd/keys/client" &&
	ssh-keygen -q -t ed25519 -N '' -C scptest-host -f "$_rd/keys/host" &&
	ssh-keygen -q -t ed25519 -N '' -C scptest-client \
	    -f "$_rd/keys/client" || return 1
	# Copies owned by scptest, for the ssh that the remote scp itself
	# runs with -R (ssh and sshd refuse keys readable by others).
	cp "$_rd/keys/host" "$_rd/keys/host_user" &&
	cp "$_rd/keys/client" "$_rd/keys/client_user" &&
	chown "$TEST_USER:" "$_rd/keys/host_user" "$_rd/keys/client_user" &&
	chmod 0600 "$_rd/keys/host_user" "$_rd/keys/client_user" &&
	chmod 0644 "$_rd/keys/client.pub" || return 1
	ln -sf "$SCP" "$_rd/bin-ours/scp"
	for _kind in ours openssh user; do
		_hk=$_rd/keys/host
		_path=/usr/bin:/bin
		case $_kind in
		ours) _path=$_rd/bin-ours:/usr/bin:/bin ;;
		user) _hk=$_rd/keys/host_user ;;
		esac
		# The remote scp (an ASan build under run-all.sh) runs with
		# the sanitizer options of the local one: sshd passes none.
		_asan=
		if [ -n "${ASAN_OPTIONS:-}" ]; then
			_asan=" ASAN_OPTIONS=$ASAN_OPTIONS"
		fi
		cat >"$_rd/sshd_$_kind" <<EOF
HostKey $_hk
AuthorizedKeysFile $_rd/keys/client.pub
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
Subsystem sftp /usr/lib/openssh/sftp-server
PidFile none
LogLevel ERROR
SetEnv PATH=$_path$_asan
EOF
	done
	_ssh_common="  User $TEST_USER
  IdentitiesOnly yes
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
  LogLevel ERROR
  BatchMode yes"
	cat >"$_rd/ssh_config" <<EOF
Host ours ::1 127.0.0.1 localhost
  ProxyCommand /usr/sbin/sshd -i -f $_rd/sshd_ours
Host openssh
  ProxyCommand /usr/sbin/sshd -i -f $_rd/sshd_openssh
Host *
  IdentityFile $_rd/keys/client
$_ssh_common
EOF
	# For scptest's own ~/.ssh/config (Include) in the -R tests: the
	# nested sshd runs unprivileged, so it can only log in as scptest.
	cat >"$_rd/ssh_config_user" <<EOF
Host ours ::1 127.0.0.1 localhost
  ProxyCommand /usr/sbin/sshd -i -f $_rd/sshd_ours_user
Host openssh
  ProxyCommand /usr/sbin/sshd -i -f $_rd/sshd_openssh_user
Host *
  IdentityFile $_rd/keys/client_user
$_ssh_common
EOF
	sed "s#^HostKey .*#HostKey $_rd/keys/host_user#" "$_rd/sshd_ours" \
	    >"$_rd/sshd_ours_user"
	sed "s#^HostKey .*#HostKey $_rd/keys/host_user#" "$_rd/sshd_openssh" \
	    >"$_rd/sshd_openssh_user"
	chmod 0644 "$_rd"/sshd_* "$_rd"/ssh_config*
	touch "$_rd/.setup.done"
	rmdir "$_rd/.setup.lock"
}

# run.sh sources this file only for scptest_setup_run.
if [ -n "${SCPTEST_LIB_FUNCTIONS_ONLY:-}" ]; then
	return 0 2>/dev/null || exit 0
fi

if [ "$(id -u)" != 0 ]; then
	echo "Bail out! integration tests need root (sshd -i logs in as $TEST_USER)"
	exit 1
fi
if [ -z "$TEST_HOME" ]; then
	echo "Bail out! user $TEST_USER missing (run tests/integration/run.sh)"
	exit 1
fi
if [ ! -x "$SCP" ]; then
	echo "Bail out! no binary under test at $SCP (set SCP=...)"
	exit 1
fi

scptest_own_rundir=0
if [ -z "${SCPTEST_RUNDIR:-}" ]; then
	SCPTEST_RUNDIR=$(mktemp -d /tmp/scptest.XXXXXX)
	scptest_own_rundir=1
fi
chmod 0755 "$SCPTEST_RUNDIR"
export SCPTEST_RUNDIR
scptest_setup_run || {
	echo "Bail out! cannot set up keys and configs in $SCPTEST_RUNDIR"
	exit 1
}

SSHCONF=$SCPTEST_RUNDIR/ssh_config
TRASH=$SCPTEST_RUNDIR/$TEST_NAME
LOGDIR=$SCPTEST_RUNDIR/logs
rm -rf "$TRASH"
mkdir -p "$TRASH" "$LOGDIR"
chown "$TEST_USER:" "$TRASH"
chmod 0755 "$TRASH"
cd "$TRASH" || exit 1
export SSHCONF TRASH FIXTURES REPO

test_count=0
test_failed=0
test_todo=0

# --- TAP --------------------------------------------------------------

# _run_body BODY: run BODY in a subshell in $TRASH with set -e, output to
# the per-test log; returns its status.
_run_body () {
	_log=$LOGDIR/$TEST_NAME.$test_count.log
	(
		cd "$TRASH" || exit 1
		set -e
		eval "$1"
	) >"$_log" 2>&1 </dev/null
	_rc=$?
	# A sanitizer report anywhere (also from the remote scp, whose
	# stderr comes back through ssh) fails the test even if the exit
	# status was right: UBSan does not change it by default.
	if [ "$_rc" -eq 0 ] && grep -q -E \
	    "runtime error:|(Address|Leak|UndefinedBehavior)Sanitizer" "$_log"
	then
		echo "# sanitizer report in the output" >>"$_log"
		_rc=99
	fi
	return $_rc
}

_show_log () {
	_log=$LOGDIR/$TEST_NAME.$test_count.log
	if [ -s "$_log" ]; then
		sed 's/^/#   /' "$_log" | head -n 60
	fi
}

# test_expect_success DESC BODY: BODY must exit 0.
test_expect_success () {
	test_count=$((test_count + 1))
	if _run_body "$2"; then
		printf 'ok %d - %s\n' "$test_count" "$1"
		if [ "${SCPTEST_VERBOSE:-0}" = 1 ]; then
			_show_log
		fi
	else
		printf 'not ok %d - %s\n' "$test_count" "$1"
		echo "#   (status $_rc, log $_log)"
		_show_log
		test_failed=$((test_failed + 1))
	fi
}

# test_expect_success_ours DESC BODY: a behaviour our spec requires but
# the reference OpenSSH does not have (PROTOCOL.md "OpenSSH is wrong
# here"). Against the reference it is reported as TAP TODO.
test_expect_success_ours () {
	if [ "$SCPTEST_REFERENCE" != 1 ]; then
		test_expect_success "$@"
		return
	fi
	test_count=$((test_count + 1))
	if _run_body "$2"; then
		printf 'ok %d - %s # TODO ours only (reference passes too)\n' \
		    "$test_count" "$1"
	else
		printf 'not ok %d - %s # TODO ours only\n' "$test_count" "$1"
		test_todo=$((test_todo + 1))
	fi
}

# test_skip DESC REASON
test_skip () {
	test_count=$((test_count + 1))
	printf 'ok %d - %s # SKIP %s\n' "$test_count" "$1" "$2"
}

# test_done: print the plan; non-zero status if any test failed.  A
# standalone run removes its run directory when everything passed.
test_done () {
	echo "1..$test_count"
	if [ "$test_failed" -ne 0 ]; then
		echo "# $TEST_NAME: $test_failed of $test_count failed;" \
		    "scratch left in $TRASH"
		exit 1
	fi
	cd /
	if [ "${SCPTEST_KEEP:-0}" != 1 ]; then
		rm -rf "$TRASH"
		if [ "$scptest_own_rundir" = 1 ]; then
			rm -rf "$SCPTEST_RUNDIR"
		fi
	fi
	exit 0
}

# --- running scp ------------------------------------------------------

# own_trash: give everything in $TRASH to scptest so the remote side can
# read and write it (the client runs as root and does not care).  Only
# files not yet owned are touched: chown clears setuid bits.
own_trash () {
	find "$TRASH" ! -user "$TEST_USER" -exec chown "$TEST_USER:" {} + \
	    2>/dev/null
	return 0
}

# run_scp ARGS...: the binary under test with our ssh config, bounded in
# time, no stdin.
run_scp () {
	own_trash
	echo "+ scp -F \$SSHCONF $*" >&2
	timeout -k 5 "$SCPTEST_TIMEOUT" "$SCP" -F "$SSHCONF" "$@" </dev/null
}

# run_ref_scp ARGS...: OpenSSH's scp (for server-mode tests).
run_ref_scp () {
	own_trash
	echo "+ /usr/bin/scp -F \$SSHCONF $*" >&2
	timeout -k 5 "$SCPTEST_TIMEOUT" /usr/bin/scp -F "$SSHCONF" "$@" \
	    </dev/null
}

# remote CMD: run a shell command as scptest on the `ours` host.
remote () {
	timeout -k 5 "$SCPTEST_TIMEOUT" ssh -F "$SSHCONF" ours "$@" </dev/null
}

# expect_rc WANT CMD...: CMD must exit with status WANT; its stdout and
# stderr go to ./out and ./err (in the cwd) for later greps.
expect_rc () {
	_want=$1
	shift
	_st=0
	"$@" >out 2>err || _st=$?
	cat out err >&2
	if [ "$_st" -ne "$_want" ]; then
		echo "expected exit status $_want, got $_st: $*" >&2
		return 1
	fi
	return 0
}

# expect_fail CMD...: CMD must fail (any non-zero status but a timeout
# (124) or a death by signal (128+n, as timeout(1) and sh report it)).  Output in ./out and ./err as for expect_rc.
expect_fail () {
	_st=0
	"$@" >out 2>err || _st=$?
	cat out err >&2
	if [ "$_st" -eq 0 ]; then
		echo "expected failure, got success: $*" >&2
		return 1
	fi
	if [ "$_st" -ge 124 ] && [ "$_st" -lt 160 ]; then
		echo "status $_st (timeout or signal): $*" >&2
		return 1
	fi
	return 0
}

# grep_err PATTERN [FILE]: fixed-string search in ./err (default).
grep_err () {
	if ! grep -F -e "$1" "${2:-err}" >/dev/null; then
		echo "missing in ${2:-err}: $1" >&2
		return 1
	fi
}

# --- files ------------------------------------------------------------

# mkfile PATH SIZE: random content of SIZE bytes.
mkfile () {
	mkdir -p "$(dirname "$1")"
	head -c "$2" /dev/urandom >"$1"
}

# mktree DIR: a nested tree with files of several sizes, an empty file
# and empty directories.
mktree () {
	mkdir -p "$1/sub/deeper" "$1/empty" "$1/sub/emptytoo" &&
	mkfile "$1/a" 1 &&
	mkfile "$1/b" 10000 &&
	mkfile "$1/sub/c" 70000 &&
	mkfile "$1/sub/deeper/d" 123457 &&
	: >"$1/zero" &&
	: >"$1/sub/deeper/zero2"
}

# same_tree A B: identical names and contents.
same_tree () {
	diff -r "$1" "$2"
}

# same_modes A B: every file and directory under A has the same mode
# (and type) under B.
same_modes () {
	_rc=0
	(cd "$1" && find . | sort) >.modes.list
	while IFS= read -r _p; do
		_a=$(stat -c %A "$1/$_p")
		_b=$(stat -c %A "$2/$_p" 2>/dev/null || echo missing)
		if [ "$_a" != "$_b" ]; then
			echo "mode of $_p: $_a vs $_b" >&2
			_rc=1
		fi
	done <.modes.list
	rm -f .modes.list
	return $_rc
}

# same_mtimes A B: every regular file under A has the same mtime under B
# (directories too when the third argument is "dirs").
same_mtimes () {
	_rc=0
	if [ "${3:-}" = dirs ]; then
		(cd "$1" && find . | sort) >.mt.list
	else
		(cd "$1" && find . -type f | sort) >.mt.list
	fi
	while IFS= read -r _p; do
		_a=$(stat -c %Y "$1/$_p")
		_b=$(stat -c %Y "$2/$_p" 2>/dev/null || echo missing)
		if [ "$_a" != "$_b" ]; then
			echo "mtime of $_p: $_a vs $_b" >&2
			_rc=1
		fi
	done <.mt.list
	rm -f .mt.list
	return $_rc
}

# test_mode PATH OCTAL: permission bits (e.g. 755, 4755) of PATH.
test_mode () {
	_m=$(stat -c %a "$1")
	if [ "$_m" != "$2" ]; then
		echo "mode of $1 is $_m, want $2" >&2
		return 1
	fi
}

# test_mtime PATH SECONDS / test_atime PATH SECONDS
test_mtime () {
	_t=$(stat -c %Y "$1")
	if [ "$_t" != "$2" ]; then
		echo "mtime of $1 is $_t, want $2" >&2
		return 1
	fi
}

test_atime () {
	_t=$(stat -c %X "$1")
	if [ "$_t" != "$2" ]; then
		echo "atime of $1 is $_t, want $2" >&2
		return 1
	fi
}

# set_times PATH MTIME ATIME (seconds since the epoch)
set_times () {
	touch -m -d "@$2" "$1" && touch -a -d "@$3" "$1"
}

# sentinel DIR: a directory whose only content is a marker; check_sentinel
# DIR fails if anything else appeared in it (hostile-peer tests).
sentinel () {
	mkdir -p "$1" && : >"$1/.marker"
}

check_sentinel () {
	_extra=$(cd "$1" && find . ! -name . ! -name .marker ! -path ./target \
	    ! -path './target/*' | head -n 5)
	if [ -n "$_extra" ]; then
		echo "unexpected files under $1: $_extra" >&2
		return 1
	fi
}

# now: seconds since the epoch
now () {
	date +%s
}
