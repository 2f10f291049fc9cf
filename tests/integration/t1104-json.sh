#!/bin/sh
# --json (issue 16, doc/scp.1 "JSON EVENTS"): the same events for every
# protocol and direction, every line parsed by a real JSON parser, the
# summary's exit status the real one; a name that is not UTF-8 comes
# back byte for byte.  A file that fails is an "end" event "failed",
# and so is a missing source wherever this side names it (every SFTP
# direction, the legacy upload); where only the far side's error line
# names it (the legacy download and -3) it is a "message" event.
. "$(dirname "$0")/lib.sh"
JC="python3 $(cd "$(dirname "$0")" && pwd)/jsoncheck.py"

# jrun RC OK FAILED ARGS...: scp --json ARGS must exit RC, with OK and
# FAILED files in its summary.
jrun () {
	_rc=$1 _ok=$2 _fail=$3
	shift 3
	expect_rc "$_rc" run_scp --json "$@" &&
	$JC out "$_rc" "$_ok" "$_fail" >names
}

test_expect_success 'setup' '
	mkfile f 1000 && mkfile g 70000 && mkfile t/a 10 && mkfile t/s/b 3000 &&
	mkdir -p up up-O dl dl-O r3 r3-O
'

for m in "" -O; do
	test_expect_success "upload $m: success" "
		jrun 0 2 0 $m f g ours:\$TRASH/up$m/ &&
		cmp f up$m/f && grep -qx f names
	"
	test_expect_success "upload $m: one missing source" "
		jrun 1 1 1 $m nosuch f ours:\$TRASH/up$m/ &&
		grep -q 'nosuch' out
	"
	test_expect_success "download $m -r: success" "
		jrun 0 2 0 $m -r ours:\$TRASH/t dl$m/ && cmp t/s/b dl$m/t/s/b
	"
	nf=- && test -z "$m" && nf=1
	test_expect_success "download $m: one missing source" "
		jrun 1 1 $nf $m ours:\$TRASH/nosuch ours:\$TRASH/f dl$m/ &&
		grep -q 'nosuch: No such file' out
	"
	test_expect_success "-3 $m: success and a missing source" "
		jrun 0 2 0 $m -3 ours:\$TRASH/f ours:\$TRASH/g ours:\$TRASH/r3$m/ &&
		cmp g r3$m/g &&
		jrun 1 1 $nf $m -3 ours:\$TRASH/nosuch ours:\$TRASH/f ours:\$TRASH/r3$m/
	"
	# The legacy upload ends with "lost connection" and 1, as
	# OpenSSH 9.2 -O does; SFTP cannot set up a session: 255.
	rc=255 && test "$m" = -O && rc=1
	test_expect_success "no connection $m: $rc, the summary says $rc" "
		jrun $rc 0 0 $m -S /bin/false f ours:\$TRASH/up$m/
	"
done

test_expect_success 'local copy, and --json=FD' '
	expect_rc 0 run_scp --json=3 -r t loc 3>events &&
	test ! -s out && $JC events 0 2 0 >/dev/null
'

test_expect_success 'a name that is not UTF-8 round-trips' '
	bad=$(printf "n\\377\\376x") && mkdir -p nu && mkfile "nu/$bad" 5 &&
	mkdir -p nd &&
	jrun 0 1 0 -r ours:$TRASH/nu nd/ &&
	cmp "nu/$bad" "nd/nu/$bad" &&
	grep -q "dcff" out &&
	test "$(basename "$(cat names)")" = "$bad"
'

test_expect_success 'a file that fails is failed, with the message' '
	mkdir -p ro && chmod 555 ro && own_trash &&
	jrun 1 0 1 f ours:$TRASH/ro/ &&
	grep -q "\"status\":\"failed\",\"message\":\"failed to upload file f" out
'

test_expect_success '--json=FD not open: 255' '
	expect_rc 255 run_scp --json=9 f up/ &&
	grep_err "--json=9: Bad file descriptor"
'
test_done
