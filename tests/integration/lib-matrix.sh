# Helpers of t1000-matrix.sh: one cell of the failure-semantics matrix
# (protocol x direction x shape x outcome), set up, run and checked by
# mx_case.  Sourced after lib.sh.
#
# Every cell works in its own directory $TRASH/c/<cell>/ holding src/
# (the sources, copied from $TRASH/master/<shape>) and dst/ (the target
# directory, empty).  Remote operands name the same directories through
# host `ours` (the server runs as scptest).  The failing file of every
# shape is called "victim" and lives alone in a directory "v":
#
#	shape	 operands (in src/)	victim's target (in dst/)
#	one	 v/victim		victim
#	several	 a1 v/victim a3		victim
#	split	 v/victim (9 MiB) a1	victim	(-X channels=2)
#	tree	 tree (-r)		tree/sub/v/victim
#	many	 many (-r, 40 files)	many/v/victim

# Above MULTI_FLOOR (8 MiB, src/xfer/multi.c): smaller files are
# never split, whatever -X channels= says.
MX_BIG=9437185

# mx_master: the sources of every shape, once, under $TRASH/master.
mx_master () {
	_m=$TRASH/master
	mkfile "$_m/one/v/victim" 5000 &&
	mkfile "$_m/several/a1" 1000 &&
	mkfile "$_m/several/v/victim" 5000 &&
	mkfile "$_m/several/a3" 70000 &&
	mkfile "$_m/split/v/victim" "$MX_BIG" &&
	mkfile "$_m/split/a1" 1000 &&
	mkdir -p "$_m/tree/tree/empty" "$_m/tree/tree/sub/deeper" &&
	mkfile "$_m/tree/tree/a" 1 &&
	mkfile "$_m/tree/tree/b" 10000 &&
	: >"$_m/tree/tree/zero" &&
	mkfile "$_m/tree/tree/sub/c" 70000 &&
	mkfile "$_m/tree/tree/sub/deeper/d" 123457 &&
	: >"$_m/tree/tree/sub/deeper/zero2" &&
	mkfile "$_m/tree/tree/sub/v/victim" 5000 &&
	mkfile "$_m/tree/tree/sub/z" 300 || return 1
	_i=1
	while [ $_i -le 39 ]; do
		mkfile "$_m/many/many/m$(printf %02d $_i)" $((_i * 37)) ||
		    return 1
		_i=$((_i + 1))
	done
	mkfile "$_m/many/many/v/victim" 500
}

# mx_shape SHAPE: sets MX_OPS (operands relative to src/), MX_R (-r or
# empty), MX_VS (victim's source, relative to src/), MX_VT (its target,
# relative to dst/), MX_VTD (the directory of MX_VT, "." for dst/).
mx_shape () {
	MX_R=
	MX_VS=v/victim
	MX_VT=victim
	MX_VTD=.
	case $1 in
	one) MX_OPS="v/victim" ;;
	several) MX_OPS="a1 v/victim a3" ;;
	split) MX_OPS="v/victim a1" ;;
	tree)
		MX_OPS=tree MX_R=-r
		MX_VS=tree/sub/v/victim MX_VT=$MX_VS MX_VTD=tree/sub/v
		;;
	many)
		MX_OPS=many MX_R=-r
		MX_VS=many/v/victim MX_VT=$MX_VS MX_VTD=many/v
		;;
	esac
}

# mx_expected: ./exp, one line "SRC<TAB>DST" per file that a whole copy
# makes (SRC relative to src/, DST relative to dst/), victim included.
mx_expected () {
	: >exp
	if [ -z "$MX_R" ]; then
		for _o in $MX_OPS; do
			printf '%s\t%s\n' "$_o" "$(basename "$_o")" >>exp
		done
	else
		(cd src && find $MX_OPS ! -type d) | sort |
		    while IFS= read -r _f; do
			printf '%s\t%s\n' "$_f" "$_f"
		done >>exp
	fi
}

# mx_scp AS ARGS...: the binary under test, as root (AS=root, through
# run_scp) or as scptest (AS=user: a local source that root could read
# anyway is denied to scptest), bounded in time, no stdin.  Paths in
# $MX_ROOTED are given back to root after own_trash (the sticky-directory
# refusal needs a file scptest does not own).
mx_scp () {
	_sc_as=$1
	shift
	own_trash
	for _sc_p in $MX_ROOTED; do
		chown root:root "$_sc_p" || return 99
	done
	if [ "$_sc_as" = root ]; then
		echo "+ scp -F \$SSHCONF $*" >&2
		timeout -k 5 "$SCPTEST_TIMEOUT" "$SCP" -F "$SSHCONF" "$@" \
		    </dev/null
	else
		echo "+ (as $TEST_USER) scp -F ssh_config_user $*" >&2
		setpriv --reuid="$TEST_USER" --regid="$TEST_USER" \
		    --clear-groups env HOME="$TEST_HOME" \
		    timeout -k 5 "$SCPTEST_TIMEOUT" "$SCP" \
		    -F "$SCPTEST_RUNDIR/ssh_config_user" "$@" </dev/null
	fi
}

# mx_err_names WORD: a line of ./err other than our own "+ scp" trace
# names WORD.
mx_err_names () {
	if ! grep -v '^+ ' err | grep -F -e "$1" >/dev/null; then
		echo "no message naming \"$1\" in stderr" >&2
		return 1
	fi
}

# mx_no_part: no temporary .scp-part file anywhere under dst/.
mx_no_part () {
	_t=$(find dst -name '*.scp-part*' | head -n 5)
	if [ -n "$_t" ]; then
		echo "temporary files left: $_t" >&2
		return 1
	fi
}

# mx_check_copied SKIP_VICTIM [ALLOWED...]: every file of ./exp (all but
# the victim when SKIP_VICTIM is 1) is a regular file under dst/,
# byte-identical to its source; dst/ holds no other file than those and
# the ALLOWED paths (relative to dst/).
mx_check_copied () {
	_skip=$1
	shift
	_cc_rc=0
	: >allowed
	while IFS='	' read -r _s _d; do
		if [ "$_skip" = 1 ] && [ "$_d" = "$MX_VT" ]; then
			continue
		fi
		echo "$_d" >>allowed
		if [ -L "dst/$_d" ] || [ ! -f "dst/$_d" ]; then
			echo "not copied: $_d" >&2
			_cc_rc=1
		elif ! cmp "src/$_s" "dst/$_d" >&2; then
			echo "differs: $_d" >&2
			_cc_rc=1
		fi
	done <exp
	for _a in "$@"; do
		echo "$_a" >>allowed
	done
	sort -o allowed allowed
	(cd dst && find . ! -type d) | sed 's#^\./##' | sort >got
	_extra=$(comm -13 allowed got | head -n 5)
	if [ -n "$_extra" ]; then
		echo "unexpected files in dst: $_extra" >&2
		_cc_rc=1
	fi
	return $_cc_rc
}

# mx_absent PATH: nothing (not even a dangling symlink) at PATH.
mx_absent () {
	if [ -e "$1" ] || [ -L "$1" ]; then
		ls -ld "$1" >&2
		echo "$1 exists, should not" >&2
		return 1
	fi
}

# mx_case PROTO DIR SHAPE OUTCOME: one cell (see t1000-matrix.sh).
mx_case () {
	set +e
	_proto=$1 _dir=$2 _shape=$3 _out=$4
	C=$TRASH/c/$_proto-$_dir-$_shape-$_out
	rm -rf "$C"
	mkdir -p "$C/src" "$C/dst" && cd "$C" || return 1
	cp -a "$TRASH/master/$_shape/." src/ || return 1
	mx_shape "$_shape"
	mx_expected
	MX_ROOTED=
	_as=root
	_targ=dst/
	own_trash

	# --- the outcome -------------------------------------------------
	case $_out in
	good) ;;
	missing)
		rm -f "src/$MX_VS"
		# Inside a tree a name in the listing whose file is gone:
		# a dangling symlink (-r follows links, OpenSSH too).
		if [ -n "$MX_R" ]; then
			ln -s nowhere "src/$MX_VS"
		fi
		;;
	unreadable)
		# Mode 000, owned by scptest: the remote server (scptest)
		# is denied it; a local source is read by the client,
		# which then runs as scptest too (root reads anything).
		chmod 000 "src/$MX_VS"
		case $_dir in
		upload | local) _as=user ;;
		esac
		;;
	nodir)
		_targ=nodir/sub/
		;;
	notwritable)
		# We write a temporary name and rename it: a read-only file
		# would simply be replaced.  A non-empty directory squats
		# the target name instead.
		mkdir -p "dst/$MX_VT" && echo keep >"dst/$MX_VT/keep"
		;;
	servererr)
		case $_dir in
		upload | relay)
			# The server (scptest) may create files in the
			# sticky root-owned directory of the victim but not
			# replace the root-owned victim: EPERM for it alone.
			mkdir -p "dst/$MX_VTD" && echo old >"dst/$MX_VT" &&
			chmod 1777 "dst/$MX_VTD" &&
			MX_ROOTED="$C/dst/$MX_VT"
			if [ "$MX_VTD" != . ]; then
				MX_ROOTED="$MX_ROOTED $C/dst/$MX_VTD"
			else
				MX_ROOTED="$MX_ROOTED $C/dst"
			fi
			;;
		download)
			if [ "$_proto" = legacy ]; then
				# The remote scp lists v (r) but cannot
				# reach the victim in it (no x).
				chmod 0644 "src/$(dirname "$MX_VS")"
			else
				# sftp-server omits from READDIR what it
				# cannot lstat, so the victim is a name it
				# lists and STATs but refuses to OPEN.
				rm -f "src/$MX_VS" &&
				ln -s /proc/self/mem "src/$MX_VS"
			fi
			;;
		esac
		;;
	esac

	# --- the command -------------------------------------------------
	set --
	if [ "$_proto" = legacy ]; then
		set -- "$@" -O
	fi
	if [ -n "$MX_R" ]; then
		set -- "$@" -r
	fi
	if [ "$_shape" = split ]; then
		set -- "$@" -X channels=2
		if [ "$_out" = good ]; then
			set -- "$@" -v
		fi
	fi
	case $_dir in
	relay) set -- "$@" -3 ;;
	esac
	for _o in $MX_OPS; do
		case $_dir in
		upload | local) set -- "$@" "src/$_o" ;;
		*) set -- "$@" "ours:$C/src/$_o" ;;
		esac
	done
	case $_dir in
	upload | relay) set -- "$@" "ours:$C/$_targ" ;;
	*) set -- "$@" "$_targ" ;;
	esac
	_st=0
	mx_scp "$_as" "$@" >out 2>err || _st=$?
	grep -v -e '^debug' -e '^Executing:' -e '^OpenSSH_' err >&2
	cat out >&2

	# --- the checks --------------------------------------------------
	_mx_rc=0
	case $_out in
	good)
		if [ "$_st" -ne 0 ]; then
			echo "expected exit status 0, got $_st" >&2
			_mx_rc=1
		fi
		mx_check_copied 0 || _mx_rc=1
		if [ -n "$MX_R" ]; then
			diff -r "src/$MX_OPS" "dst/$MX_OPS" >&2 || _mx_rc=1
		fi
		if [ "$_shape" = split ] && ! grep -E \
		    "multi: [0-9]+ bytes over 2 sessions" err >/dev/null; then
			echo "not split over 2 sessions" >&2
			_mx_rc=1
		fi
		mx_no_part || _mx_rc=1
		;;
	nodir)
		if [ "$_st" -ne 1 ]; then
			echo "expected exit status 1, got $_st" >&2
			_mx_rc=1
		fi
		mx_err_names nodir/sub || _mx_rc=1
		mx_absent nodir || _mx_rc=1
		if [ -n "$(ls -A dst)" ]; then
			echo "dst/ not empty: $(ls -A dst)" >&2
			_mx_rc=1
		fi
		;;
	*)
		if [ "$_st" -ne 1 ]; then
			echo "expected exit status 1, got $_st" >&2
			_mx_rc=1
		fi
		mx_err_names victim || _mx_rc=1
		case $_out in
		notwritable)
			mx_check_copied 1 "$MX_VT/keep" || _mx_rc=1
			if [ ! -d "dst/$MX_VT" ] ||
			    [ "$(cat "dst/$MX_VT/keep")" != keep ]; then
				echo "the squatting directory changed" >&2
				_mx_rc=1
			fi
			;;
		servererr)
			if [ "$_dir" = download ]; then
				mx_check_copied 1 || _mx_rc=1
				mx_absent "dst/$MX_VT" || _mx_rc=1
			else
				mx_check_copied 1 "$MX_VT" || _mx_rc=1
				if [ "$(cat "dst/$MX_VT")" != old ]; then
					echo "old content of the victim lost" >&2
					_mx_rc=1
				fi
			fi
			;;
		*)
			mx_check_copied 1 || _mx_rc=1
			mx_absent "dst/$MX_VT" || _mx_rc=1
			;;
		esac
		mx_no_part || _mx_rc=1
		;;
	esac
	return $_mx_rc
}

# mx_noconn PROTO DIR: a failing ssh (-S /bin/false) is a setup failure:
# exit 255 in SFTP mode, nothing created.  -O keeps OpenSSH's exit 1
# (lostconn(), OpenSSH 9.2 and 10.x, every direction).
mx_noconn () {
	set +e
	_proto=$1 _dir=$2
	C=$TRASH/c/$_proto-$_dir-noconn
	rm -rf "$C"
	mkdir -p "$C/src" "$C/dst" && cd "$C" || return 1
	mkfile src/f 1000
	set -- -S /bin/false
	if [ "$_proto" = legacy ]; then
		set -- "$@" -O
	fi
	case $_dir in
	upload) set -- "$@" src/f "ours:$C/dst/" ;;
	download) set -- "$@" "ours:$C/src/f" dst/ ;;
	relay) set -- "$@" -3 "ours:$C/src/f" "ours:$C/dst/" ;;
	esac
	_st=0
	MX_ROOTED=
	mx_scp root "$@" >out 2>err || _st=$?
	cat err out >&2
	_mx_rc=0
	_want=255
	if [ "$_proto" = legacy ]; then
		_want=1
	fi
	if [ "$_st" -ne "$_want" ]; then
		echo "expected exit status $_want, got $_st" >&2
		_mx_rc=1
	fi
	if [ -n "$(ls -A dst)" ]; then
		echo "dst/ not empty: $(ls -A dst)" >&2
		_mx_rc=1
	fi
	return $_mx_rc
}
