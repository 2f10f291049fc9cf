# Helpers for the fault and hostile-peer scripts (t07xx, t08xx), sourced
# after lib.sh.  Processes are only ever found through the process tree
# below a pid this script started, never by name across the machine.

# descendants PID: every pid below PID (children, grandchildren, ...),
# one a line, parents before children.
descendants () {
	for _c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		echo "$_c"
		descendants "$_c"
	done
}

# find_desc PID COMM: the first descendant of PID whose command name
# (/proc/N/comm) is COMM; empty if none.
find_desc () {
	for _d in $(descendants "$1"); do
		if [ "$(cat /proc/"$_d"/comm 2>/dev/null)" = "$2" ]; then
			echo "$_d"
			return 0
		fi
	done
}

# wait_desc PID COMM [TENTHS]: wait (default 10 s) for find_desc; the pid
# is left in $found.
wait_desc () {
	_n=${3:-100}
	found=
	while [ "$_n" -gt 0 ]; do
		found=$(find_desc "$1" "$2")
		if [ -n "$found" ]; then
			return 0
		fi
		sleep 0.1
		_n=$((_n - 1))
	done
	echo "no $2 below $1" >&2
	return 1
}

# partial_of DIR NAME: the temporary file holding a partial NAME in DIR
# (".NAME.scp-part", or ".NAME.<size>-<mtime>.scp-part"), empty if none.
partial_of () {
	for _f in "$1"/."$2".scp-part "$1"/."$2".*.scp-part; do
		if [ -f "$_f" ]; then
			echo "$_f"
			return 0
		fi
	done
}

# wait_partial DIR NAME BYTES [TENTHS]: wait (default 10 s) until a
# partial of NAME in DIR has at least BYTES bytes (the copy is mid-file).
wait_partial () {
	_n=${4:-100}
	while [ "$_n" -gt 0 ]; do
		_f=$(partial_of "$1" "$2")
		if [ -n "$_f" ] && [ "$(stat -c %s "$_f")" -ge "$3" ]; then
			return 0
		fi
		sleep 0.1
		_n=$((_n - 1))
	done
	echo "no partial of $2 in $1 reached $3 bytes" >&2
	return 1
}

# kept_partial DIR NAME SRC: a partial of NAME is left in DIR and holds a
# prefix of SRC (resumable).
kept_partial () {
	_f=$(partial_of "$1" "$2")
	if [ -z "$_f" ]; then
		echo "no partial of $2 left in $1:" $(ls -A "$1") >&2
		return 1
	fi
	is_prefix "$_f" "$3"
}

# bg_scp ARGS...: start the binary under test in the background with our
# ssh config; pid in $bgpid, output to ./out and ./err.  The descendants
# are recorded in ./bg.pids by bg_wait for no_leftover_pids.
bg_scp () {
	own_trash
	echo "+ scp -F \$SSHCONF $* &" >&2
	env --default-signal=INT,TERM,HUP "$SCP" -F "$SSHCONF" "$@" \
	    </dev/null >out 2>err &
	bgpid=$!
}

# bg_snapshot: remember every descendant of $bgpid (call while it runs).
bg_snapshot () {
	descendants "$bgpid" >bg.pids
}

# bg_wait [SECONDS]: wait (default 30 s) for $bgpid; its status in $st
# (124 if it had to be killed).  Prints its output to stderr.
bg_wait () {
	_n=$((${1:-30} * 10))
	while kill -0 "$bgpid" 2>/dev/null; do
		if [ "$_n" -le 0 ]; then
			echo "scp pid $bgpid still running, killing it" >&2
			kill -KILL "$bgpid" 2>/dev/null
			wait "$bgpid" 2>/dev/null
			st=124
			cat out err >&2
			return 0
		fi
		# A zombie counts as finished.
		if [ "$(cut -d' ' -f3 /proc/"$bgpid"/stat 2>/dev/null)" = Z ]
		then
			break
		fi
		sleep 0.1
		_n=$((_n - 1))
	done
	st=0
	wait "$bgpid" || st=$?
	cat out err >&2
	echo "exit status $st" >&2
}

# no_leftover_pids: none of the pids recorded by bg_snapshot still runs
# (after a grace period of 5 s: sshd tears down on its own time).
no_leftover_pids () {
	for _i in 1 2 3 4 5 6 7 8 9 10; do
		_left=
		for _p in $(cat bg.pids 2>/dev/null); do
			if [ -d /proc/"$_p" ] &&
			    [ "$(cut -d' ' -f3 /proc/"$_p"/stat)" != Z ]; then
				_left="$_left $_p"
			fi
		done
		if [ -z "$_left" ]; then
			return 0
		fi
		sleep 0.5
	done
	echo "processes left:$_left" >&2
	for _p in $_left; do
		tr '\0' ' ' </proc/"$_p"/cmdline >&2
		echo >&2
	done
	return 1
}

# no_partial_final PATH SRC: PATH (a final name) is absent or exactly SRC.
no_partial_final () {
	if [ -e "$1" ] && ! cmp -s "$1" "$2"; then
		echo "$1 exists with wrong content (size $(stat -c %s "$1"))" >&2
		return 1
	fi
	return 0
}

# is_prefix PART SRC: PART holds a prefix of SRC (resumable partial data).
is_prefix () {
	_ps=$(stat -c %s "$1") || return 1
	if ! cmp -s -n "$_ps" "$1" "$2"; then
		echo "$1 ($_ps bytes) is not a prefix of $2" >&2
		return 1
	fi
}

ESC=$(printf '\033')
BEL=$(printf '\007')
CSI8=$(printf '\233')

# no_raw_escapes FILE: no ESC, BEL or 8-bit CSI byte reached the terminal.
no_raw_escapes () {
	if LC_ALL=C grep -q "[$ESC$BEL$CSI8]" "$1"; then
		echo "raw escape bytes in $1" >&2
		return 1
	fi
}
