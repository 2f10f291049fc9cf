# Helpers for the t06NN resume/atomic tests (sourced after lib.sh).

# kill_mid SIG GLOB MIN ARGS...: runs the scp under test with ARGS in the
# background, waits until a file matching GLOB (a partial) has at least
# MIN bytes, then sends SIG to that scp (by its pid).  The scp's stderr
# goes to ./kill.err.  Fails if the partial never grew.
kill_mid () {
	_sig=$1 _glob=$2 _min=$3
	shift 3
	own_trash
	if [ "$_sig" = INT ]; then
		# A background job starts with SIGINT ignored: undo that, as
		# a terminal's ^C would reach a foreground scp.
		python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execv(sys.argv[1], sys.argv[1:])' "$SCP" -F "$SSHCONF" "$@" \
		    </dev/null >kill.out 2>kill.err &
	else
		"$SCP" -F "$SSHCONF" "$@" </dev/null >kill.out 2>kill.err &
	fi
	_pid=$!
	_i=0
	while [ $_i -lt 300 ]; do
		for _f in $_glob; do
			if [ -f "$_f" ] &&
			    [ "$(stat -c %s "$_f")" -ge "$_min" ]; then
				kill -"$_sig" $_pid
				_st=0
				wait $_pid || _st=$?
				echo "scp exit status $_st" >&2
				cat kill.err >&2
				echo $_st >kill.rc
				return 0
			fi
		done
		sleep 0.1
		_i=$((_i + 1))
	done
	kill -9 $_pid
	wait $_pid
	echo "partial $_glob never reached $_min bytes" >&2
	return 1
}

# resumed_at: the offset the last "resuming at byte N" line in ./err
# names (empty if none).
resumed_at () {
	sed -n 's/.*resuming at byte \([0-9]*\) of.*/\1/p' err | tail -n 1
}

# partname FILE: the temporary name outfile_partname() gives FILE's
# current version, in FILE's directory.
partname () {
	_d=$(dirname "$1")
	_b=$(basename "$1")
	echo "$_d/.$_b.$(stat -c %s "$1")-$(stat -c %Y "$1").scp-part"
}
