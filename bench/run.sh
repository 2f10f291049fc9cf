#!/bin/sh
# bench/run.sh: the "fast where scp is slow" benchmark (see bench/README.md).
#
#   sh bench/run.sh [--quick] [--runs N] [--only WORKLOADS] [--tools TOOLS]
#		    [--scp PATH] [--dir DIR] [--timeout SECS] [--keep]
#		    [--results FILE]
#
# Builds our scp (release) if needed, starts a private sshd through
# ProxyCommand (loopback, and a 50 ms round trip through linkemu), makes
# the data sets, times every tool on every workload, checks each copy is
# byte-identical, and prints medians, ratios and the goals.  A full run
# (no --quick/--only/--tools/--scp) also writes bench/RESULTS.md.
# Runs as root: the "remote" user is scptest on this machine.

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
. "$BENCH_DIR/lib/common.sh"
. "$BENCH_DIR/lib/setup.sh"
. "$BENCH_DIR/lib/workloads.sh"

usage () {
	cat >&2 <<EOF
usage: sh bench/run.sh [--quick] [--runs N] [--only WORKLOADS] [--tools TOOLS]
		       [--scp PATH] [--dir DIR] [--timeout SECS] [--keep]
		       [--results FILE]
  --quick	small data sets, 1 run: a smoke test of about 2 minutes
  --runs N	timed runs per tool and workload (default 3; --quick: 1)
  --only L	comma-separated workloads, from:
		$(echo $ALL_WORKLOADS | tr ' ' ',')
  --tools L	comma-separated tools, from: $(echo $ALL_TOOLS | tr ' ' ',')
  --scp PATH	benchmark this binary as "ours" instead of build-bench/scp
  --dir DIR	where the temporary data go (default /dev/shm, else /tmp)
  --timeout S	limit for one copy (default 900 s; --quick 120 s)
  --keep	keep the temporary directory (data, logs, configs)
  --results F	also write the report to F (a full run writes
		bench/RESULTS.md)
EOF
	exit 2
}

QUICK=0
RUNS=
ONLY=
TOOLS_OPT=
OURS=
PARENT=
TIMEOUT=
KEEP=0
RESULTS=
while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 ;;
	--runs) [ $# -ge 2 ] || usage; RUNS=$2; shift ;;
	--only) [ $# -ge 2 ] || usage; ONLY=$2; shift ;;
	--tools) [ $# -ge 2 ] || usage; TOOLS_OPT=$2; shift ;;
	--scp) [ $# -ge 2 ] || usage; OURS=$2; shift ;;
	--dir) [ $# -ge 2 ] || usage; PARENT=$2; shift ;;
	--timeout) [ $# -ge 2 ] || usage; TIMEOUT=$2; shift ;;
	--keep) KEEP=1 ;;
	--results) [ $# -ge 2 ] || usage; RESULTS=$2; shift ;;
	-h | --help) usage ;;
	*) say "bench: unknown argument: $1"; usage ;;
	esac
	shift
done

if [ -z "$RUNS" ]; then
	RUNS=3
	[ "$QUICK" = 1 ] && RUNS=1
fi
is_uint "$RUNS" && [ "$RUNS" -ge 1 ] && [ "$RUNS" -le 50 ] ||
    die "--runs wants 1..50"
if [ -z "$TIMEOUT" ]; then
	TIMEOUT=900
	[ "$QUICK" = 1 ] && TIMEOUT=120
fi
is_uint "$TIMEOUT" && [ "$TIMEOUT" -ge 1 ] || die "bad --timeout"

WORKLOADS=
for _w in $ALL_WORKLOADS; do
	if [ -z "$ONLY" ] || in_list "$_w" "$ONLY"; then
		WORKLOADS="$WORKLOADS $_w"
	fi
done
for _w in $(printf '%s' "$ONLY" | tr ',' ' '); do
	in_list "$_w" "$ALL_WORKLOADS" || die "unknown workload: $_w"
done
TOOLS=
for _t in $ALL_TOOLS; do
	if [ -z "$TOOLS_OPT" ] || in_list "$_t" "$TOOLS_OPT"; then
		TOOLS="$TOOLS $_t"
	fi
done
for _t in $(printf '%s' "$TOOLS_OPT" | tr ',' ' '); do
	in_list "$_t" "$ALL_TOOLS" || die "unknown tool: $_t"
done
[ -n "$WORKLOADS" ] && [ -n "$TOOLS" ] || die "nothing to run"
WORKLOADS=${WORKLOADS# }
TOOLS=${TOOLS# }

# Only a full run replaces the recorded results.
if [ "$QUICK" = 0 ] && [ -z "$ONLY" ] && [ -z "$TOOLS_OPT" ] &&
    [ -z "$OURS" ] && [ -z "$RESULTS" ]; then
	RESULTS=$REPO/bench/RESULTS.md
fi
if [ -n "$OURS" ]; then
	case $OURS in
	/*) ;;
	*) OURS=$(pwd)/$OURS ;;
	esac
fi

[ "$(id -u)" = 0 ] || die "run as root (sshd -i logs in as scptest)"

CIPHER=aes128-gcm@openssh.com
SLOW_SECS=${BENCH_SLOW_SECS:-60}
LONG_DELAY_MS=25
BUILD=$REPO/build-bench

if [ -z "$PARENT" ]; then
	PARENT=/tmp
	# tmpfs keeps disk writeback out of the numbers; the data need
	# about 4 GB (data sets plus one copy).
	_avail=$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 { print $4 }')
	if is_uint "$_avail" && [ "$_avail" -gt $((6 << 20)) ]; then
		PARENT=/dev/shm
	fi
fi
W=$(mktemp -d "$PARENT/scpbench.XXXXXX") || die "mktemp failed"
case $W in
*[!A-Za-z0-9/._-]*) rm -rf "$W"; die "temporary path $W has odd characters" ;;
esac
chmod 0755 "$W"
DATA_FS=$(stat -f -c %T "$W" 2>/dev/null || echo unknown)
mkdir -p "$W/logs"
: >"$W/raw.tsv"
: >"$W/planned.tsv"
: >"$W/rss.tsv"
: >"$W/datasets.tsv"

cleanup () {
	if [ "$KEEP" = 1 ]; then
		say "kept $W"
	else
		rm -rf "$W"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

START=$(now_ns)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
setup_deps
setup_build
setup_user
setup_sshd
say "workloads: $WORKLOADS"
say "tools: $TOOLS; runs: $RUNS$( [ "$QUICK" = 1 ] && echo ' (quick)')"
setup_data "$WORKLOADS"

for _w in $WORKLOADS; do
	run_workload "$_w"
	case $_w in
	big-up | big-down)
		# As many probes as timed runs, the tools taking turns: the
		# report takes the median CPU and the highest VmHWM (one
		# sample of CPU swung by 15% either way from run to run).
		_r=1
		while [ "$_r" -le "$RUNS" ]; do
			for _t in ours ours-O openssh openssh-O; do
				if in_list "$_t" "$TOOLS"; then
					say "  $_t: memory and CPU probe" \
					    "$_r/$RUNS (untimed)"
					rss_probe "$_w" "$_t"
				fi
			done
			_r=$((_r + 1))
		done
		;;
	esac
done

ELAPSED=$(ns_to_s $(($(now_ns) - START)))
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# --- the report ----------------------------------------------------------

_commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$REPO" status --porcelain -- src meson.build \
    2>/dev/null)" ]; then
	_commit="$_commit (plus uncommitted changes in src/)"
fi
_mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
_cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
{
	echo "## scp benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	if [ "$QUICK" = 1 ]; then
		echo "**--quick run: reduced data sets, not comparable with" \
		    "a full run.**"
		echo
	fi
	echo "- command: \`sh bench/run.sh" \
	    "$( [ "$QUICK" = 1 ] && printf -- '--quick ')--runs $RUNS" \
	    "$( [ -n "$ONLY" ] && printf -- '--only %s ' "$ONLY")$( \
	    [ -n "$TOOLS_OPT" ] && printf -- '--tools %s' "$TOOLS_OPT")\`," \
	    "took $ELAPSED s"
	echo "- machine: $(nproc) CPUs ($_cpu), $_mem RAM," \
	    "kernel $(uname -r), data on $(df -P "$W" | awk 'NR == 2 { print $1 }')" \
	    "($PARENT)"
	echo "- OpenSSH: $(ssh -V 2>&1); rsync $(rsync --version |
	    awk 'NR == 1 { print $3 }'); tar $(tar --version |
	    awk 'NR == 1 { print $NF }')"
	echo "- load average (1/5/15 min): $LOAD_START at the start," \
	    "$LOAD_END at the end; other work on the machine shows up as noise"
	echo "- ours: $OURS, git $_commit"
	echo "- link: loopback through \`sshd -i\` as ProxyCommand; long link" \
	    "= linkemu -d $LONG_DELAY_MS ($((LONG_DELAY_MS * 2)) ms round" \
	    "trip); cipher $CIPHER for every tool, no compression"
	echo
	echo "Data sets:"
	echo
	echo "| data set | files | bytes | used by |"
	echo "|---|---:|---:|---|"
	while IFS="$(printf '\t')" read -r _ds _n _b; do
		_u=
		for _w in $WORKLOADS; do
			[ "$(dataset_for "$_w")" = "$_ds" ] && _u="$_u $_w"
		done
		echo "| $_ds | $_n | $_b ($(human_bytes "$_b")) |$_u |"
	done <"$W/datasets.tsv"
	echo
	awk -f "$BENCH_DIR/lib/report.awk" -v workloads="$WORKLOADS" \
	    -v tools="$TOOLS" -v runs="$RUNS" -v quick="$QUICK" -v slow="$SLOW_SECS" \
	    "$W/raw.tsv" "$W/planned.tsv" "$W/rss.tsv"
	echo
	echo "Every copy was compared with its source (cmp, diff -r) after" \
	    "the timed part; a FAIL cell means a run exited non-zero, timed" \
	    "out after $TIMEOUT s or produced a different copy (its stderr" \
	    "is in build-bench/bench-last-logs/)."
} >"$W/report.md"

cat "$W/report.md"
mkdir -p "$BUILD"
cp "$W/report.md" "$BUILD/bench-last.md"
cp "$W/raw.tsv" "$BUILD/bench-last-raw.tsv"
rm -rf "$BUILD/bench-last-logs"
cp -r "$W/logs" "$BUILD/bench-last-logs"
if [ -n "$RESULTS" ]; then
	{
		echo "# Benchmark results"
		echo
		echo "Written by \`sh bench/run.sh\` (bench/README.md explains" \
		    "the workloads, the tools and the goals): run it again" \
		    "rather than editing this file."
		echo
		cat "$W/report.md"
	} >"$RESULTS" && say "report written to $RESULTS"
fi
if [ "$KEEP" = 1 ]; then
	say "logs: $W/logs"
fi
