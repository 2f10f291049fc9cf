# Servers and clients no one here wrote (issue 16), sourced after lib.sh
# by t11xx: a Dropbear server on loopback, an OpenSSH sshd without an
# sftp subsystem, and the keys PuTTY's pscp needs.  Nothing here touches
# the machine's ssh configuration or any real home: Dropbear reads
# ~scptest/.ssh/authorized_keys, so each one runs in a private mount
# namespace (unshare -m) where a scratch directory is bind-mounted over
# scptest's home, and our build over /usr/bin/scp (Dropbear forces
# PATH=/usr/bin:/bin for the legacy protocol's remote `scp`).  The only
# processes stopped are the pids started here.

peers_pids=

# peers_cleanup: stop the servers this script started (by pid).
peers_cleanup () {
	for _p in $peers_pids; do
		kill "$_p" 2>/dev/null
	done
	peers_pids=
}
trap peers_cleanup EXIT

# free_port: a TCP port on 127.0.0.1 nobody listens on right now.
free_port () {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# wait_port PORT: until something accepts on 127.0.0.1:PORT (5 s).
wait_port () {
	python3 -c 'import socket, sys, time
for i in range(100):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)' "$1"
}

# peers_ssh_config FILE: start FILE with the client options every alias
# of these scripts shares (the run's client key, no known_hosts).
peers_ssh_config () {
	cat >"$1" <<-EOF
	Host *
	  User $TEST_USER
	  IdentityFile $SCPTEST_RUNDIR/keys/client
	  IdentitiesOnly yes
	  StrictHostKeyChecking no
	  UserKnownHostsFile /dev/null
	  LogLevel ERROR
	  BatchMode yes
	EOF
	chmod 0644 "$1"
}

# dropbear_start ALIAS [nosftp]: a Dropbear daemon on 127.0.0.1 and a
# free port, its own ed25519 host key, in a private mount namespace
# where scptest's home is $TRASH/ALIAS.home (authorized_keys: the run's
# client key) and /usr/bin/scp is $SCP.  With "nosftp" an empty
# directory also hides /usr/lib/openssh, so Dropbear's compiled-in
# /usr/lib/sftp-server (Debian's symlink to openssh/sftp-server) dangles
# and the subsystem request runs into "sh: 1: /usr/lib/sftp-server: not
# found".  Appends "Host ALIAS" to $PEERCONF (made by peers_ssh_config
# first).  The pid is stopped at exit: call this outside test bodies
# (they run in subshells, which would lose it).
dropbear_start () {
	_a=$1
	_d=$TRASH/$_a.db
	rm -rf "$_d" "$TRASH/$_a.home"
	mkdir -p "$_d/empty" "$TRASH/$_a.home/.ssh" || return 1
	cp "$SCPTEST_RUNDIR/keys/client.pub" \
	    "$TRASH/$_a.home/.ssh/authorized_keys" &&
	chown -R "$TEST_USER:" "$TRASH/$_a.home" &&
	chmod 0755 "$TRASH/$_a.home" &&
	chmod 0700 "$TRASH/$_a.home/.ssh" &&
	chmod 0600 "$TRASH/$_a.home/.ssh/authorized_keys" || return 1
	dropbearkey -t ed25519 -f "$_d/hostkey" >/dev/null 2>&1 || return 1
	_hide=
	if [ "${2:-}" = nosftp ]; then
		_hide="mount --bind $_d/empty /usr/lib/openssh &&"
	fi
	_port=$(free_port) || return 1
	# unshare and sh exec, so $! is Dropbear's own pid.
	unshare -m sh -c "mount --bind $TRASH/$_a.home $TEST_HOME &&
	    mount --bind $SCP_REAL /usr/bin/scp && $_hide
	    exec /usr/sbin/dropbear -F -E -s -m -p 127.0.0.1:$_port \
	    -r $_d/hostkey -P $_d/pid" >"$_d/log" 2>&1 </dev/null &
	peers_pids="$peers_pids $!"
	wait_port "$_port" || {
		cat "$_d/log" >&2
		return 1
	}
	cat >>"$PEERCONF" <<-EOF
	Host $_a
	  HostName 127.0.0.1
	  Port $_port
	EOF
	# Host * (above) comes first: its options apply to every alias.
}

# sshd_nosftp_alias ALIAS: an OpenSSH sshd -i (ProxyCommand, as lib.sh's
# hosts) whose sshd_config has no Subsystem line; PATH's scp is ours.
sshd_nosftp_alias () {
	grep -v '^Subsystem' "$SCPTEST_RUNDIR/sshd_ours" >"$TRASH/sshd_$1" &&
	chmod 0644 "$TRASH/sshd_$1" &&
	cat >>"$PEERCONF" <<-EOF
	Host $1
	  ProxyCommand /usr/sbin/sshd -i -f $TRASH/sshd_$1
	EOF
}

# run_peer ARGS...: the binary under test with $PEERCONF.
run_peer () {
	own_trash
	echo "+ scp -F \$PEERCONF $*" >&2
	timeout -k 5 "$SCPTEST_TIMEOUT" "$SCP" -F "$PEERCONF" "$@" </dev/null
}
