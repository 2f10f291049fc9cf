#!/bin/sh
# bench/lib/selftest.sh: checks the benchmark's own arithmetic without
# running a benchmark (no root, no ssh, a second or two):
#   - the mixed tree's size list is the fixed one (same on every machine),
#   - report.awk's medians, FAIL cells, ratios and goal verdicts on
#     made-up results.
#
#   sh bench/lib/selftest.sh	-> "ok N" lines, exit 0 when all pass

LIB=$(cd "$(dirname "$0")" && pwd)
. "$LIB/common.sh"
. "$LIB/setup.sh"

T=$(mktemp -d "${TMPDIR:-/tmp}/benchself.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
fails=0
n=0

check () {
	n=$((n + 1))
	if eval "$2"; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1"
		fails=$((fails + 1))
	fi
}

# --- the mixed tree ------------------------------------------------------

mixed_sizes 1590 10 >"$T/sizes"
check 'mixed tree: 1600 files' '[ "$(wc -l <"$T/sizes")" -eq 1600 ]'
check 'mixed tree: 512,595,079 bytes' \
    '[ "$(awk "{ s += \$1 } END { print s }" "$T/sizes")" = 512595079 ]'
check 'mixed tree: 1 KB .. 50 MB' \
    '[ "$(sort -n "$T/sizes" | awk "NR == 1 { a = \$1 } END { print a, \$1 }")" = "1000 50000000" ]'
check 'mixed tree: the fixed list' \
    '[ "$(cksum <"$T/sizes")" = "237489310 35243" ]'
check 'mixed tree: 40 directories' \
    '[ "$(sed "s#/[^/]*\$##" "$T/sizes" | cut -d" " -f2 | sort -u | wc -l)" -eq 40 ]'

# --- report.awk ----------------------------------------------------------

tab=$(printf '\t')
row () {
	printf '%s\n' "$*" | tr ' ' "$tab" >>"$T/raw.tsv"
}
: >"$T/raw.tsv"
# big-up: ours 1.0 1.2 1.1 (median 1.1), raw 1.06 1.05 1.07 (1.06)
row big-up ours 1 ok 1.0 0.5 0.5 8000
row big-up ours 2 ok 1.2 0.5 0.5 9000
row big-up ours 3 ok 1.1 0.5 0.5 10000
row big-up raw 1 ok 1.06 0.1 0.1 7000
row big-up raw 2 ok 1.05 0.1 0.1 7000
row big-up raw 3 ok 1.07 0.1 0.1 7000
# big-down: one wrong copy fails the whole cell
row big-down ours 1 ok 0.5 0.1 0.1 8000
row big-down ours 2 wrong 0.4 0.1 0.1 8000
row big-down raw 1 ok 1.0 0.1 0.1 7000
# small-up: even number of runs -> mean of the middle two (2.5)
row small-up ours 1 ok 2 - - -
row small-up ours 2 ok 3 - - -
row small-up tar 1 ok 2.5 - - -
row small-up tar 2 ok 2.5 - - -
# long-small-up: OpenSSH's default mode counts (60 / 0.5 = 120x; its
# -O, 45 s, would give 90x)
row long-small-up ours 1 ok 0.5 - - -
row long-small-up openssh 1 ok 60 - - -
row long-small-up openssh-O 1 ok 45 - - -
# small-up, -O: judged against OpenSSH's -O only (3.1 / 3.0 = 1.033)
row small-up ours-O 1 ok 3.1 - - -
row small-up openssh-O 1 ok 3.0 - - -
# Three probes of ours: the highest VmHWM (20000) and the median CPU (0.41).
printf 'big-up\tours\t8000\t0.90\nbig-up\tours\t20000\t0.41\n' >"$T/rss.tsv"
printf 'big-up\tours\t9000\t0.30\nbig-up\topenssh\t9000\t0.40\n' >>"$T/rss.tsv"
: >"$T/planned.tsv"

awk -f "$LIB/report.awk" -v workloads="big-up big-down small-up long-small-up" \
    -v tools="ours ours-O openssh openssh-O tar raw" -v runs=3 -v quick=0 -v slow=60 \
    "$T/raw.tsv" "$T/planned.tsv" "$T/rss.tsv" >"$T/report" 2>"$T/err"
check 'report: no awk errors' '[ ! -s "$T/err" ]'
check 'report: median of three' \
    'grep -q "^| big-up | 1.10 | - | - | - | - | 1.06 |$" "$T/report"'
check 'report: a wrong copy is FAIL' \
    'grep -q "^| big-down | \*\*FAIL\*\* |" "$T/report"'
check 'report: median of two' \
    'grep -q "^| small-up | 2.50 (2 runs) |" "$T/report"'
check 'report: one run marked' \
    'grep -q "^| long-small-up | 0.50 (1 run) | - | 60.00 (1 run) | 45.00 (1 run) |" "$T/report"'
check 'goal: 1.038 <= 1.05 passes' \
    'grep -q "big-up, ours: ours/raw ssh cat = 1.038 <= 1.05 | PASS" "$T/report"'
check 'goal: failed copy fails' \
    'grep -q "big-down, ours: .*ours failed) | FAIL" "$T/report"'
check 'goal: equal to tar passes' \
    'grep -q "small-up, ours: ours/tar+ssh = 1.000 <= 1.00 | PASS" "$T/report"'
check 'goal: 120x against OpenSSH scp'"'"'s default mode' \
    'grep -q "long-small-up, ours: OpenSSH scp/ours = 120.0x >= 100x | PASS" "$T/report"'
check 'goal: -O against OpenSSH scp -O, 5% slack' \
    'grep -q "small-up, ours -O: ours -O/OpenSSH scp -O = 1.033 <= 1.05 | PASS" "$T/report"'
check 'goal: RSS from the scp process alone (20000 KiB > 16 MiB)' \
    'grep -q "peak RSS of our scp = 19.5 MiB <= 16 MiB | FAIL" "$T/report"'
check 'goal: our scp process CPU above OpenSSH scp'"'"'s fails' \
    'grep -q "big-up, ours: CPU of the scp process 0.41 s <= OpenSSH scp.s 0.40 s | FAIL" "$T/report"'
check 'report: counts' 'grep -q "^4 goals passed, 3 failed.$" "$T/report"'

if [ "$fails" -ne 0 ]; then
	echo "# report was:"
	sed 's/^/# /' "$T/report"
	exit 1
fi
exit 0
