#!/bin/sh
# The failure-semantics matrix: the same outcomes for every protocol
# (SFTP, legacy -O), direction (upload, download, -3 relay ours: ->
# ours:, local) and shape (one file, three file operands, a -r tree, a
# 9 MiB file split over 2 channels, a -r tree of 40 small files).
# Required behaviour (PROTOCOL.md section 1 "Exit status"):
#  - all good: exit 0, every file byte-identical, nothing temporary;
#  - a per-file failure (source missing, source unreadable, one target
#    file not writable, the server refusing one file): exit 1, a message
#    naming the file, every other file copied and identical, the failing
#    file's target absent (or with its old content), no .scp-part left;
#  - target directory missing (nodir/sub/): exit 1, a message naming
#    it, nothing created;
#  - only a setup failure (no connection: -S /bin/false) is 255 (-O keeps
#    OpenSSH's "lost connection", exit 1).
# Cells that cannot arise are printed as SKIP with the reason.  The
# setup and checks of one cell are mx_case in lib-matrix.sh.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-matrix.sh"

test_expect_success 'setup: the sources of every shape' '
	mx_master
'

dir_name () {
	case $1 in
	relay) echo "relay -3" ;;
	*) echo "$1" ;;
	esac
}

shape_name () {
	case $1 in
	one) echo "one file" ;;
	several) echo "3 sources" ;;
	tree) echo "tree" ;;
	split) echo "split over 2 channels" ;;
	many) echo "40 small files" ;;
	esac
}

outcome_name () {
	case $1 in
	good) echo "all good" ;;
	missing) echo "one source missing" ;;
	unreadable) echo "one source unreadable" ;;
	nodir) echo "target directory missing" ;;
	notwritable) echo "one target file not writable" ;;
	servererr) echo "server error on one file" ;;
	esac
}

# skip_reason PROTO DIR SHAPE OUTCOME: why the cell cannot arise, or "".
skip_reason () {
	if [ "$3" = split ]; then
		case $1/$2 in
		legacy/*)
			echo "-X channels= splits SFTP only (one legacy stream)"
			return ;;
		*/relay)
			echo "a -3 relay never splits (crossload.c; ours: to ours: is one copy-data session)"
			return ;;
		*/local)
			echo "a local copy has no sessions to split over"
			return ;;
		esac
	fi
	if [ "$4" = servererr ] && [ "$2" = local ]; then
		echo "a local copy has no server"
		return
	fi
}

for proto in sftp legacy; do
	for dir in upload download relay local; do
		for shape in one several tree split many; do
			for outcome in good missing unreadable nodir \
			    notwritable servererr; do
				name="$proto $(dir_name $dir) $(shape_name $shape): $(outcome_name $outcome)"
				why=$(skip_reason $proto $dir $shape $outcome)
				if [ -n "$why" ]; then
					test_skip "$name" "$why"
					continue
				fi
				before=$test_failed
				test_expect_success "$name" \
				    "mx_case $proto $dir $shape $outcome"
				if [ "$test_failed" = "$before" ] &&
				    [ "${SCPTEST_KEEP:-0}" != 1 ]; then
					rm -rf "$TRASH/c/$proto-$dir-$shape-$outcome"
				fi
			done
		done
		name="$proto $(dir_name $dir): no connection (-S /bin/false)"
		if [ "$dir" = local ]; then
			test_skip "$name" "a local copy makes no connection"
			continue
		fi
		test_expect_success "$name" "mx_noconn $proto $dir"
	done
done

test_done
