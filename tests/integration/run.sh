#!/bin/sh
# Run the integration suite against BINARY:
#	tests/integration/run.sh build/scp
#	tests/integration/run.sh /usr/bin/scp	(the reference, OpenSSH 9.2)
# Needs root (sshd -i logs in as the unprivileged user scptest, created
# here if missing).  Runs every t*.sh, two at a time, prints each
# script's TAP when it finishes, then the source rules
# (tests/check-banned.sh, check-layers.py, check-size.sh) as one test case
# each, and ends with exactly one line "N passed, N failed" counting test
# cases over all scripts.  Exit status 1 if anything failed.
#
# Environment: SCPTEST_KEEP=1 keeps the run directory; SCPTEST_JOBS
# (default 2) scripts at a time; SCPTEST_ONLY=glob runs a subset
# (e.g. 't01*').

usage () {
	echo "usage: $0 BINARY" >&2
	exit 2
}

[ $# -eq 1 ] || usage
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

case $1 in
/*) SCP=$1 ;;
*) SCP=$(pwd)/$1 ;;
esac
if [ ! -x "$SCP" ]; then
	echo "$0: $SCP: not an executable" >&2
	exit 2
fi
if [ "$(id -u)" != 0 ]; then
	echo "$0: must run as root (sshd -i logs in as user scptest)" >&2
	exit 2
fi

# The remote user: shell /bin/sh (root's startup files change PATH), a
# usable but password-less account ('*' is not "locked" for sshd).
if ! getent passwd scptest >/dev/null; then
	useradd -m -s /bin/sh scptest || exit 2
fi
usermod -p '*' scptest 2>/dev/null
mkdir -p /run/sshd

SCPTEST_RUNDIR=$(mktemp -d /tmp/scptest-run.XXXXXX) || exit 2
chmod 0755 "$SCPTEST_RUNDIR"
export SCP SCPTEST_RUNDIR

# Keys and configs once, before the scripts run in parallel.
(
	SCPTEST_LIB_FUNCTIONS_ONLY=1
	. "$HERE/lib.sh"
	scptest_setup_run
) || {
	echo "$0: setup failed" >&2
	exit 2
}

OUT=$SCPTEST_RUNDIR/tap
mkdir -p "$OUT"

# One script: TAP to a file, exit status alongside, then print it whole
# under a lock so two parallel scripts do not interleave.
cat >"$OUT/run-one" <<'EOF'
#!/bin/sh
t=$1
name=$(basename "$t" .sh)
sh "$t" >"$OUT/$name.tap" 2>&1 </dev/null
echo $? >"$OUT/$name.rc"
flock "$OUT/.print" sh -c 'echo "# --- $1"; cat "$2"' sh "$name" \
    "$OUT/$name.tap"
EOF
chmod 0755 "$OUT/run-one"
export OUT

ls "$HERE"/${SCPTEST_ONLY:-t*}.sh 2>/dev/null | sort >"$OUT/list"
if [ ! -s "$OUT/list" ]; then
	echo "$0: no test scripts" >&2
	exit 2
fi
# xargs reads the list; the scripts themselves get /dev/null as stdin.
xargs -P "${SCPTEST_JOBS:-2}" -I{} "$OUT/run-one" {} <"$OUT/list" || true

passed=0
failed=0
todo=0
skipped=0
while IFS= read -r t; do
	name=$(basename "$t" .sh)
	tap=$OUT/$name.tap
	p=$(grep -c '^ok ' "$tap")
	f=$(grep '^not ok ' "$tap" | grep -vc '# TODO')
	d=$(grep '^not ok ' "$tap" | grep -c '# TODO')
	s=$(grep '^ok ' "$tap" | grep -c '# SKIP')
	passed=$((passed + p - s))
	failed=$((failed + f))
	todo=$((todo + d))
	skipped=$((skipped + s))
	rc=$(cat "$OUT/$name.rc" 2>/dev/null || echo 99)
	# A script that died, bailed out or lost its plan counts as one
	# failure of its own.
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "# $name: exit status $rc without a failed test"
		failed=$((failed + 1))
	elif ! grep -q '^1\.\.[0-9]' "$tap"; then
		echo "# $name: no plan (died early?)"
		failed=$((failed + 1))
	fi
done <"$OUT/list"

# The source rules (docs/HACKING.md), each one more test case.
echo "# --- source rules"
nrule=0
rule () {
	nrule=$((nrule + 1))
	_desc=$1
	shift
	if "$@" >"$OUT/rule.out" 2>&1; then
		echo "ok $nrule - $_desc"
		passed=$((passed + 1))
	else
		echo "not ok $nrule - $_desc"
		sed 's/^/#   /' "$OUT/rule.out"
		failed=$((failed + 1))
	fi
}
rule "no banned calls in src/" sh "$REPO/tests/check-banned.sh"
rule "includes follow the layers" python3 "$REPO/tests/check-layers.py"
rule "no source file over the size rule" sh "$REPO/tests/check-size.sh"
echo "1..$nrule"

echo "# run directory: $SCPTEST_RUNDIR; $todo todo (ours only," \
    "reference differs), $skipped skipped"
if [ "$failed" -eq 0 ] && [ "${SCPTEST_KEEP:-0}" != 1 ]; then
	rm -rf "$SCPTEST_RUNDIR"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
