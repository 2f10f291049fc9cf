# bench/lib/workloads.sh: the workloads, the command each tool runs for
# them, and the timed loop.  Sourced by bench/run.sh.
#
# Results go to $W/raw.tsv, one line per timed run:
#	workload tool run status seconds user_s sys_s maxrss_kib
# status: ok, fail (exit status), timeout, wrong (output differs).

ALL_WORKLOADS="big-up big-down small-up small-down mixed-up mixed-down
long-big-up long-big-down long-small-up long-small-down relay-big relay-small
long-relay-small"
ALL_TOOLS="ours ours-O openssh openssh-O rsync tar raw"

# wl_dir WORKLOAD: up, down or relay (-3: from one host to another
# through this one; both "hosts" are this machine).
wl_dir () {
	case $1 in
	*-up) echo up ;;
	relay-* | long-relay-*) echo relay ;;
	*) echo down ;;
	esac
}

# wl_is_file WORKLOAD: true when the workload copies one regular file.
wl_is_file () {
	case $1 in
	big-* | long-big-* | relay-big) return 0 ;;
	esac
	return 1
}

# tool_applies TOOL WORKLOAD: raw channel copies single files only; only
# the scps relay (-3).
tool_applies () {
	if [ "$1" = raw ] && ! wl_is_file "$2"; then
		return 1
	fi
	if [ "$(wl_dir "$2")" = relay ]; then
		case $1 in
		ours | ours-O | openssh | openssh-O) ;;
		*) return 1 ;;
		esac
	fi
	return 0
}

# tool_cmd TOOL WORKLOAD: print the shell command for one run.  The data
# set $W/data/NAME goes to $W/rdst/NAME (up) or $W/ldst/NAME (down); the
# "remote" is this machine through sshd -i.  Every tool uses $CFG, so the
# cipher (Ciphers in ssh_config) and the link are the same for all.
# Our scp's remote end (for -O) comes from host "ours", whose PATH starts
# with our binary; every other tool uses host "openssh" (PATH=/usr/bin:/bin)
# so OpenSSH scp -O talks to OpenSSH's scp.
tool_cmd () {
	_t=$1 _wl=$2
	_ds=$(dataset_for "$_wl")
	_suffix=
	case $_wl in
	long-*) _suffix=-long ;;
	esac
	_ho=ours$_suffix
	_hs=openssh$_suffix
	_r=
	if ! wl_is_file "$_wl"; then
		_r=-r
	fi
	_src=$W/data/$_ds
	if [ "$(wl_dir "$_wl")" = relay ]; then
		# From the "ours" host to the "openssh" one (two endpoints:
		# the data pass through this scp).
		case $_t in
		ours) echo "$OURS -3 -q -F $CFG $_r $_ho:$_src $_hs:$W/rdst/" ;;
		ours-O) echo "$OURS -O -3 -q -F $CFG $_r $_ho:$_src" \
		    "$_hs:$W/rdst/" ;;
		openssh) echo "/usr/bin/scp -3 -q -F $CFG $_r $_ho:$_src" \
		    "$_hs:$W/rdst/" ;;
		openssh-O) echo "/usr/bin/scp -O -3 -q -F $CFG $_r" \
		    "$_ho:$_src $_hs:$W/rdst/" ;;
		esac
	elif [ "$(wl_dir "$_wl")" = up ]; then
		case $_t in
		ours) echo "$OURS -q -F $CFG $_r $_src $_ho:$W/rdst/" ;;
		ours-O) echo "$OURS -O -q -F $CFG $_r $_src $_ho:$W/rdst/" ;;
		openssh) echo "/usr/bin/scp -q -F $CFG $_r $_src $_hs:$W/rdst/" ;;
		openssh-O) echo "/usr/bin/scp -O -q -F $CFG $_r $_src" \
		    "$_hs:$W/rdst/" ;;
		rsync) echo "rsync -a -e 'ssh -F $CFG' $_src $_hs:$W/rdst/" ;;
		tar) echo "tar cf - -C $W/data $_ds |" \
		    "ssh -F $CFG $_hs 'tar xf - -C $W/rdst'" ;;
		raw) echo "ssh -F $CFG $_hs 'cat > $W/rdst/$_ds' < $_src" ;;
		esac
	else
		case $_t in
		ours) echo "$OURS -q -F $CFG $_r $_ho:$_src $W/ldst/" ;;
		ours-O) echo "$OURS -O -q -F $CFG $_r $_ho:$_src $W/ldst/" ;;
		openssh) echo "/usr/bin/scp -q -F $CFG $_r $_hs:$_src $W/ldst/" ;;
		openssh-O) echo "/usr/bin/scp -O -q -F $CFG $_r $_hs:$_src" \
		    "$W/ldst/" ;;
		rsync) echo "rsync -a -e 'ssh -F $CFG' $_hs:$_src $W/ldst/" ;;
		tar) echo "ssh -F $CFG $_hs 'tar cf - -C $W/data $_ds' |" \
		    "tar xf - -C $W/ldst" ;;
		raw) echo "ssh -F $CFG $_hs 'cat $_src' > $W/ldst/$_ds" ;;
		esac
	fi
}

# target_of WORKLOAD: where the copy lands.
target_of () {
	if [ "$(wl_dir "$1")" != down ]; then
		echo "$W/rdst/$(dataset_for "$1")"
	else
		echo "$W/ldst/$(dataset_for "$1")"
	fi
}

# clear_target WORKLOAD: remove the previous copy, outside the timed part.
# Remote targets go with a plain ssh rm -rf as the remote user.
clear_target () {
	_tg=$(target_of "$1")
	case $_tg in
	"$W"/rdst/?* | "$W"/ldst/?*) ;;
	*) die "refusing to remove $_tg" ;;
	esac
	if [ "$(wl_dir "$1")" != down ]; then
		if [ -e "$_tg" ]; then
			timeout 120 ssh -F "$CFG" openssh "rm -rf -- '$_tg'" \
			    </dev/null || die "remote rm -rf $_tg failed"
		fi
	else
		rm -rf -- "$_tg"
	fi
	[ ! -e "$_tg" ] || die "could not remove $_tg"
}

# verify WORKLOAD: the copy is byte-identical to the source (and a tree
# has the same entries).
verify () {
	_src=$W/data/$(dataset_for "$1")
	_tg=$(target_of "$1")
	if wl_is_file "$1"; then
		cmp -s "$_src" "$_tg"
	else
		diff -r -q "$_src" "$_tg" >/dev/null 2>&1
	fi
}

# runs_for TOOL WORKLOAD: how many timed runs.  OpenSSH scp moving many
# small files over the long link needs minutes per run, so it gets one
# (the report marks cells with fewer runs).
runs_for () {
	case $1/$2 in
	openssh*/long-small-*)
		if [ "$QUICK" = 0 ] && [ "$RUNS" -gt 1 ]; then
			echo 1
			return
		fi
		;;
	esac
	echo "$RUNS"
}

# timed_run WORKLOAD TOOL RUN: one run; appends to raw.tsv and returns
# nonzero when the run did not produce a correct copy.
timed_run () {
	_wl=$1 _tool=$2 _run=$3
	_cmd=$(tool_cmd "$_tool" "$_wl")
	_log=$W/logs/$_wl.$_tool.$_run
	printf '%s\n' "$_cmd" >"$_log.cmd"
	clear_target "$_wl"
	# On a disk, start each run with no dirty pages of the previous one;
	# tmpfs has no writeback and sync would only wait for others' I/O.
	if [ "$DATA_FS" != tmpfs ]; then
		sync
	fi
	rm -f "$W/time.out"
	_t0=$(now_ns)
	timeout -k 5 "$TIMEOUT" /usr/bin/time -f '%U %S %M' -o "$W/time.out" \
	    sh -c "$_cmd" </dev/null >"$_log.out" 2>"$_log.err"
	_rc=$?
	_t1=$(now_ns)
	_secs=$(ns_to_s $((_t1 - _t0)))
	_usr=- _sys=- _rss=-
	if [ -s "$W/time.out" ]; then
		# GNU time prefixes "Command exited with non-zero status N".
		set -- $(tail -1 "$W/time.out")
		_usr=$1 _sys=$2 _rss=$3
	fi
	if [ "$_rc" = 124 ] || [ "$_rc" = 137 ]; then
		_st=timeout
	elif [ "$_rc" != 0 ]; then
		_st=fail
	elif ! verify "$_wl"; then
		_st=wrong
	else
		_st=ok
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$_wl" "$_tool" "$_run" \
	    "$_st" "$_secs" "$_usr" "$_sys" "$_rss" >>"$W/raw.tsv"
	LAST_SECS=$_secs
	if [ "$_st" = ok ]; then
		say "  $_tool run $_run: ${_secs}s"
		clear_target "$_wl"
		return 0
	fi
	say "  $_tool run $_run: $_st (exit $_rc) after ${_secs}s;" \
	    "log $_log.err:"
	tail -3 "$_log.err" | sed 's/^/    | /' >&2
	clear_target "$_wl"
	return 1
}

# run_workload WORKLOAD: every selected tool, runs_for times each.  The
# runs go round-robin (run 1 of every tool, then run 2, ...) so that a
# burst of other load on the machine hits all tools alike rather than
# all runs of one.  A tool's first failure ends its runs for this
# workload, and so does a first run longer than $SLOW_SECS (one run of
# a copy that slow is stable enough, and three would make a full
# benchmark take hours while our scp is still slow).
run_workload () {
	say "== $1 ($(dataset_for "$1"), $(wl_dir "$1"))"
	_done=
	_max=0
	for _tl in $TOOLS; do
		tool_applies "$_tl" "$1" || continue
		_n=$(runs_for "$_tl" "$1")
		printf '%s\t%s\t%s\n' "$1" "$_tl" "$_n" >>"$W/planned.tsv"
		if [ "$_n" -gt "$_max" ]; then
			_max=$_n
		fi
	done
	_i=1
	while [ "$_i" -le "$_max" ]; do
		for _tl in $TOOLS; do
			tool_applies "$_tl" "$1" || continue
			in_list "$_tl" "$_done" && continue
			[ "$_i" -le "$(runs_for "$_tl" "$1")" ] || continue
			if ! timed_run "$1" "$_tl" "$_i"; then
				_done="$_done $_tl"
				continue
			fi
			if [ "$_i" = 1 ] && [ "$RUNS" -gt 1 ] &&
			    awk -v s="$LAST_SECS" -v l="$SLOW_SECS" \
			    'BEGIN { exit !(s > l) }'; then
				say "  $_tl: over $SLOW_SECS s, one run only"
				_done="$_done $_tl"
			fi
		done
		_i=$((_i + 1))
	done
}

# rss_probe WORKLOAD TOOL: an untimed extra run that samples the scp
# process's own VmHWM (GNU time's %M covers scp plus its ssh child, the
# larger of the two) and its own user+sys CPU time from /proc/PID/stat
# (GNU time's figure includes ssh, which does the crypto).  The last
# sample is at most 20 ms before the exit, so the CPU time is short by
# at most that much, the same for every tool.  Appends "workload tool
# vmhwm_kib cpu_s" to rss.tsv.
rss_probe () {
	_cmd=$(tool_cmd "$2" "$1")
	_tck=$(getconf CLK_TCK 2>/dev/null || echo 100)
	clear_target "$1"
	# $! is scp itself: the command is a simple one (no pipeline).
	sh -c "exec $_cmd" </dev/null >/dev/null 2>"$W/logs/rss.$1.$2.err" &
	_pid=$!
	_hwm=
	_cpu=
	_k=0
	# A zombie's status has no VmHWM line: that ends the loop.
	while [ "$_k" -lt $((TIMEOUT * 50)) ]; do
		_v=$(awk '/^VmHWM:/ { print $2 }' "/proc/$_pid/status" \
		    2>/dev/null)
		if [ -z "$_v" ]; then
			break
		fi
		_hwm=$_v
		# utime and stime: fields 14 and 15, counted after "(comm)".
		_c=$(sed 's/.*) //' "/proc/$_pid/stat" 2>/dev/null |
		    awk -v t="$_tck" '{ printf "%.3f", ($12 + $13) / t }')
		[ -n "$_c" ] && _cpu=$_c
		sleep 0.02
		_k=$((_k + 1))
	done
	if [ "$_k" -ge $((TIMEOUT * 50)) ]; then
		kill "$_pid" 2>/dev/null
	fi
	wait "$_pid"
	_rc=$?
	if [ "$_rc" = 0 ] && [ -n "$_hwm" ] && verify "$1"; then
		printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$_hwm" "${_cpu:--}" \
		    >>"$W/rss.tsv"
	else
		printf '%s\t%s\t%s\t%s\n' "$1" "$2" FAIL FAIL >>"$W/rss.tsv"
	fi
	clear_target "$1"
}
