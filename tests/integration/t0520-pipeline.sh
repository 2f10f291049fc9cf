#!/bin/sh
# SFTP mode copies of many files (issue 5): the cases that any engine
# keeping many files in flight must get exactly as the one-file-at-a-time
# code does.  Both directions, against the real sshd:
#  - a tree of ~1,500 files in 30 directories (4 deep, names with spaces,
#    sizes around the 4 KiB and 32 KiB boundaries, a few MB), identical,
#    modes and mtimes kept with -p, masked by the umask without it;
#  - the same tree again over the existing copy;
#  - one unreadable file in the middle of the walk: named, the others
#    arrive, exit 1, no temporary file left;
#  - a directory that cannot be made: one error, not one per file;
#  - two failing files: reported in walk order (ours walks each
#    directory in strcmp order; OpenSSH 9.2 in readdir order);
#  - 300 files as separate upload operands;
#  - SIGINT mid-copy: every file under a final name is whole.
# Ours only (TODO against OpenSSH 9.2): exact directory modes on a -rp
# download (§6), one error for a local directory that cannot be made
# (9.2 fails each file below it), walk order (9.2: readdir order), and
# SIGINT (9.2 writes in place, the cut file keeps its final name).
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-faults.sh"

# gentree DIR KIND: a tree of random files.  KIND "big": 30 directories
# (root included, nested up to 4 below it, one empty), 50 files in each
# but the empty one, sizes cycling over the 4 KiB and 32 KiB boundaries
# plus three files of 3-5 MB, modes cycling over u+w ones, distinct old
# mtimes on files and directories.  KIND "small": 5 directories of 40
# files.  One python3 process: a shell loop would fork 3,000 times.
gentree () {
	python3 - "$1" "$2" <<'EOF'
import os, sys
root, kind = sys.argv[1], sys.argv[2]
sizes = [0, 1, 4095, 4096, 4097, 32767, 32768, 32769, 100000, 300000,
         1, 10, 100, 1000, 4096, 2000, 500, 50, 8192, 12345,
         7, 77, 777, 7777, 4095, 4097, 65536, 3, 30, 300]
fmodes = [0o644, 0o600, 0o640, 0o755, 0o700, 0o664, 0o777, 0o750]
dmodes = [0o755, 0o750, 0o700, 0o775]
if kind == 'big':
    dirs = ['.']
    for t in range(6):
        top = 'd %02d' % t
        dirs += [top, top + '/sub a', top + '/sub b', top + '/sub a/deep 3']
        if t < 5:
            dirs.append(top + '/sub a/deep 3/deep 4')
    nfiles, bigs = 50, {'d 01': 3000000, 'd 03/sub b': 4000000,
                        'd 05/sub a/deep 3': 5000000}
else:
    dirs = ['.', 'a', 'b', 'b/x', 'c']
    nfiles, bigs = 40, {}
os.makedirs(root)
for d in dirs:
    os.makedirs(os.path.join(root, d), exist_ok=True)
if kind == 'big':
    os.makedirs(os.path.join(root, 'd 05/empty'))
i = 0
for d in dirs:
    for k in range(nfiles):
        name = ('file %04d with space' if i % 3 == 0 else 'f%04d') % i
        size = sizes[i % len(sizes)]
        if k == 0 and d in bigs:
            size = bigs[d]
        p = os.path.join(root, d, name)
        with open(p, 'wb') as f:
            f.write(os.urandom(size))
        os.chmod(p, fmodes[i % len(fmodes)])
        t = 1000000000 + i * 3607
        os.utime(p, (t, t))
        i += 1
# Directories last, deepest first: filling one changes its mtime.
alld = sorted(set(dirs) | ({'d 05/empty'} if kind == 'big' else set()),
              key=lambda d: -d.count('/'))
for j, d in enumerate(alld):
    p = os.path.join(root, d)
    os.chmod(p, dmodes[j % len(dmodes)])
    t = 900000000 + j * 86400
    os.utime(p, (t, t))
EOF
}

# statlist DIR [f]: "name mode mtime" of everything under DIR (regular
# files only with "f"), sorted by name.
statlist () {
	(cd "$1" && find . ${2:+-type f} -print0 | sort -z |
	    xargs -0 stat -c '%n %a %Y')
}

# modes_masked DIR MASK: "mode name" of the regular files under DIR, the
# mode with the bits of MASK (octal) cleared: what a copy without -p
# gives when MASK is the creating side's umask.
modes_masked () {
	(cd "$1" && find . -type f -print0 | sort -z |
	    xargs -0 stat -c '%a %n') |
	while read -r _m _n; do
		printf '%o %s\n' $((0$_m & ~0$2)) "$_n"
	done
}

# fresh_mtimes DIR SINCE: every regular file under DIR has an mtime of
# SINCE or later (not the source's old one).
fresh_mtimes () {
	_old=$(find "$1" -type f ! -newermt "@$(($2 - 1))" | head -n 3)
	if [ -n "$_old" ]; then
		echo "old mtimes under $1: $_old" >&2
		return 1
	fi
}

# no_temp DIR: no temporary (".*.scp-part") file anywhere under DIR.
no_temp () {
	_t=$(find "$1" -name '*.scp-part' -o -name '*.scp-dir' | head -n 3)
	if [ -n "$_t" ]; then
		echo "temporary files left: $_t" >&2
		return 1
	fi
}

# errlines: the lines of ./err that are not run_scp's own trace.
errlines () {
	grep -v '^+ ' err || true
}

# only_names NAME...: every error line names one of the NAMEs, and each
# NAME is named.  The one summary line per operand that OpenSSH prints
# after a directory with errors ("failed to upload directory SRC to
# DST") names no file and is let through.
only_names () {
	errlines | grep -v -e ': failed to upload directory ' \
	    -e ': failed to download directory ' >err.lines || true
	for _n in "$@"; do
		grep_err "$_n" err.lines || return 1
	done
	while IFS= read -r _l; do
		_hit=0
		for _n in "$@"; do
			case $_l in
			*"$_n"*) _hit=1 ;;
			esac
		done
		if [ $_hit = 0 ]; then
			echo "error line names none of $*: $_l" >&2
			return 1
		fi
	done <err.lines
}

# at_most N: ./err has at most N lines besides the trace.
at_most () {
	_c=$(errlines | wc -l)
	if [ "$_c" -gt "$1" ]; then
		echo "$_c error lines, want at most $1" >&2
		return 1
	fi
}

# before A B: the first error line naming A comes before the first one
# naming B.
before () {
	_a=$(errlines | grep -n -F -e "$1" | head -n 1 | cut -d: -f1)
	_b=$(errlines | grep -n -F -e "$2" | head -n 1 | cut -d: -f1)
	if [ -z "$_a" ] || [ -z "$_b" ] || [ "$_a" -ge "$_b" ]; then
		echo "want \"$1\" (line ${_a:-none}) before \"$2\"" \
		    "(line ${_b:-none})" >&2
		return 1
	fi
}

# all_final_whole SRC DST: every file under DST but temporaries is
# identical to its source; there are some, but fewer than under SRC
# (the copy was cut short).
all_final_whole () {
	_n=0
	(cd "$2" && find . -type f ! -name '*.scp-part') >final.list
	while IFS= read -r _f; do
		cmp "$1/$_f" "$2/$_f" || return 1
		_n=$((_n + 1))
	done <final.list
	_all=$(find "$1" -type f | wc -l)
	echo "$_n of $_all files arrived" >&2
	test "$_n" -gt 0 && test "$_n" -lt "$_all"
}

start=$(now)

test_expect_success 'setup: 1,500 files, 30 directories, 4 deep, spaces' '
	gentree tree big &&
	test "$(find tree -type f | wc -l)" -eq 1500 &&
	test "$(find tree -type d | wc -l)" -eq 31 &&
	test -d "tree/d 00/sub a/deep 3/deep 4" &&
	test -f "tree/d 05/sub a/deep 3/file 1452 with space" &&
	test "$(find tree -size +2M | wc -l)" -eq 3
'

# --- the whole tree -------------------------------------------------

test_expect_success '-rp upload: identical, modes and mtimes kept' '
	mkdir -p up-p &&
	run_scp -rp tree ours:$TRASH/up-p/ &&
	same_tree tree up-p/tree &&
	statlist tree >want && statlist up-p/tree >got &&
	diff want got && test -d "up-p/tree/d 05/empty"
'

test_expect_success '-rp download: identical, modes and mtimes kept' '
	mkdir -p down-p &&
	run_scp -rp ours:$TRASH/tree down-p/ &&
	same_tree tree down-p/tree &&
	statlist tree f >want && statlist down-p/tree f >got &&
	diff want got && test -d "down-p/tree/d 05/empty" &&
	same_mtimes tree down-p/tree dirs
'

# §6: OpenSSH 9.2 gives a downloaded directory of mode 0775 the umask's
# 0755 (it chmods only a mode that lacked u+wx).
test_expect_success_ours '-rp download: directory modes exact too' '
	statlist tree >want && statlist down-p/tree >got && diff want got
'

# Without -p: the source mode less the creating side's umask (the remote
# sftp-server runs with 022), a fresh mtime (PROTOCOL.md §4).
test_expect_success '-r upload: identical, modes masked, fresh mtimes' '
	mkdir -p up-n &&
	run_scp -r tree ours:$TRASH/up-n/ &&
	same_tree tree up-n/tree &&
	modes_masked tree 022 >want &&
	modes_masked up-n/tree 0 >got &&
	diff want got && fresh_mtimes up-n/tree $start
'

test_expect_success '-r download: identical, modes masked, fresh mtimes' '
	mkdir -p down-n &&
	(umask 027 && run_scp -r ours:$TRASH/tree down-n/) &&
	same_tree tree down-n/tree &&
	modes_masked tree 027 >want &&
	modes_masked down-n/tree 0 >got &&
	diff want got && fresh_mtimes down-n/tree $start
'

# --- again over the copy ---------------------------------------------

# Some sources change (longer, shorter, emptied, new content of the same
# size) so that a file left alone would show.
test_expect_success 'setup: change 40 files of the tree' '
	find tree -type f | sort | awk "NR % 37 == 5" | head -n 40 >changed &&
	test "$(wc -l <changed)" -eq 40 &&
	n=0 && while IFS= read -r f; do
		s=$(stat -c %s "$f") &&
		case $((n % 4)) in
		0) mkfile "$f" $((s + 4097)) ;;
		1) mkfile "$f" $((s / 2)) ;;
		2) : >"$f" ;;
		3) mkfile "$f" "$s" ;;
		esac &&
		set_times "$f" $((1100000000 + n)) $((1100000000 + n)) &&
		n=$((n + 1))
	done <changed
'

test_expect_success '-rp upload again over the copy: replaced, identical' '
	run_scp -rp tree ours:$TRASH/up-p/ &&
	same_tree tree up-p/tree &&
	statlist tree f >want && statlist up-p/tree f >got &&
	diff want got && no_temp up-p
'

test_expect_success '-rp download again over the copy: replaced, identical' '
	run_scp -rp ours:$TRASH/tree down-p/ &&
	same_tree tree down-p/tree &&
	statlist tree f >want && statlist down-p/tree f >got &&
	diff want got && no_temp down-p
'

# --- one file fails in the middle of the walk ------------------------

BAD="file 0081 with space"

# Root reads any local file: a dangling symlink is the unreadable one
# (OpenSSH and we both follow links under -r, so it fails to open).
test_expect_success 'upload: one unreadable file named, the rest arrive, 1' '
	gentree ue small && rm "ue/b/$BAD" && ln -s nowhere "ue/b/$BAD" &&
	mkdir -p ue-up &&
	expect_rc 1 run_scp -r ue ours:$TRASH/ue-up/ &&
	only_names "ue/b/$BAD" && at_most 3 &&
	diff -r -x "$BAD" ue ue-up/ue &&
	test ! -e "ue-up/ue/b/$BAD" && no_temp ue-up
'

# Remote side: scptest is denied a mode 000 file.
test_expect_success 'download: one unreadable file named, the rest arrive, 1' '
	gentree de small && own_trash && chmod 000 "de/b/$BAD" &&
	mkdir -p de-down &&
	expect_rc 1 run_scp -r ours:$TRASH/de de-down/ &&
	only_names "de/b/$BAD" && at_most 3 &&
	grep_err "Permission denied" &&
	diff -r -x "$BAD" de de-down/de &&
	test ! -e "de-down/de/b/$BAD" && no_temp de-down
'

# --- a directory that cannot be made ---------------------------------

# A regular file sits where directory b (40 files and b/x with 40 more)
# must go: one error for b, not one per file under it.
test_expect_success 'upload: a remote dir that cannot be made: one error, 1' '
	gentree me small && mkdir -p me-up/me && echo keep >me-up/me/b &&
	expect_rc 1 run_scp -r me ours:$TRASH/me-up/ &&
	only_names me-up/me/b && at_most 3 &&
	test "$(cat me-up/me/b)" = keep &&
	diff -r me/a me-up/me/a && diff -r me/c me-up/me/c &&
	cmp me/f0001 me-up/me/f0001 && no_temp me-up
'

# OpenSSH 9.2 goes on into the directory it could not make and fails
# every file under it, one message each.
test_expect_success_ours 'download: a local dir that cannot be made: one error, 1' '
	mkdir -p me-down/me && echo keep >me-down/me/b &&
	expect_rc 1 run_scp -r ours:$TRASH/me me-down/ &&
	only_names me-down/me/b && at_most 3 &&
	test "$(cat me-down/me/b)" = keep &&
	diff -r me/a me-down/me/a && diff -r me/c me-down/me/c &&
	cmp me/f0001 me-down/me/f0001 && no_temp me-down
'

# --- two failures, reported in walk order ----------------------------

# "0 first" and "z last" sort first and last at the top; the tree's own
# files (a/, b/, c/, f*) lie between them in the walk.
test_expect_success_ours 'upload: two failing files reported in walk order' '
	gentree oe small && ln -s nowhere "oe/0 first" &&
	ln -s nowhere "oe/z last" && mkdir -p oe-up &&
	expect_rc 1 run_scp -r oe ours:$TRASH/oe-up/ &&
	only_names "0 first" "z last" && before "0 first" "z last" &&
	diff -r -x "0 first" -x "z last" oe oe-up/oe
'

test_expect_success_ours 'download: two failing files reported in walk order' '
	gentree od small && mkfile "od/0 first" 100 && mkfile "od/z last" 100 &&
	own_trash && chmod 000 "od/0 first" "od/z last" && mkdir -p od-down &&
	expect_rc 1 run_scp -r ours:$TRASH/od od-down/ &&
	only_names "0 first" "z last" && before "0 first" "z last" &&
	diff -r -x "0 first" -x "z last" od od-down/od
'

# --- many operands ---------------------------------------------------

test_expect_success 'setup: 300 files' '
	mkdir -p ops && i=1 && while [ $i -le 300 ]; do
		mkfile ops/o$i $((i * 97 % 5000)) && i=$((i + 1))
	done
'

# Upload only: each remote source operand gets a connection of its own
# (ours and OpenSSH 9.2 alike), 300 would take two minutes.
test_expect_success '300 files as separate operands, upload' '
	mkdir -p ops-up && set -- && i=1 && while [ $i -le 300 ]; do
		set -- "$@" ops/o$i && i=$((i + 1))
	done &&
	run_scp "$@" ours:$TRASH/ops-up/ &&
	diff -r ops ops-up
'

# --- interrupted -----------------------------------------------------

# BIGF (3 MB) is the first large file of the walk, after some 250 small
# ones: SIGINT comes once 300 kB of it arrived, under either name (-l
# keeps the copy going for seconds).  Ours writes every file under a
# temporary name and renames it when whole; OpenSSH 9.2 writes in place,
# so its cut file is under the final name.
BIGF="d 01/file 0300 with space"

# wait_big DIR: wait (up to 40 s) for 300 kB of BIGF in DIR, under its
# final or its temporary name.
wait_big () {
	_i=400
	_d=$(dirname "$1/$BIGF")
	_b=$(basename "$BIGF")
	while [ $_i -gt 0 ]; do
		for _f in "$_d/$_b" "$_d/.$_b".*scp-part; do
			if [ -f "$_f" ] &&
			    [ "$(stat -c %s "$_f")" -ge 300000 ]; then
				return 0
			fi
		done
		sleep 0.1
		_i=$((_i - 1))
	done
	echo "$BIGF never reached 300 kB in $1" >&2
	return 1
}

# An upload of a new directory is built as ".tree.scp-dir" and renamed
# into place when whole (docs/protocol-sftp.md): interrupted, nothing is
# under the final name at all.
test_expect_success_ours "SIGINT during a upload of many files" "
	test \"\$(stat -c %s \"tree/\$BIGF\")\" -eq 3000000 &&
	mkdir -p int-up &&
	bg_scp -q -r -l 20000 tree ours:\$TRASH/int-up/ &&
	wait_big int-up/.tree.scp-dir && bg_snapshot &&
	kill -INT \$bgpid && bg_wait 20 &&
	test \"\$st\" = 1 && no_leftover_pids &&
	test ! -e int-up/tree && test -d int-up/.tree.scp-dir
"

test_expect_success_ours "SIGINT during a download of many files" "
	test \"\$(stat -c %s \"tree/\$BIGF\")\" -eq 3000000 &&
	mkdir -p int-down &&
	bg_scp -q -r -l 20000 ours:\$TRASH/tree int-down/ &&
	wait_big int-down/tree && bg_snapshot &&
	kill -INT \$bgpid && bg_wait 20 &&
	test \"\$st\" = 1 && no_leftover_pids &&
	all_final_whole tree int-down/tree
"

test_done
