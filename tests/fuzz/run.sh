#!/bin/sh
# Runs every libFuzzer target for a share of SECONDS (at least 3 each):
#   sh tests/fuzz/run.sh BUILDDIR SECONDS
# BUILDDIR was configured with -Dfuzz=true (see tests/fuzz/README.md).
# Each target starts from a temporary copy of its seed corpus (the repo
# is never written) with its files in a private TMPDIR.  Prints one line
# per target, "fuzz <target>: ok (N runs)" or the crash with the end of
# its report; crash inputs are kept in $FUZZ_ARTIFACTS (default
# BUILDDIR/fuzz-artifacts).  Exit status: 0 if no target crashed.
set -u
if [ $# -ne 2 ]; then
	echo "usage: $0 BUILDDIR SECONDS" >&2
	exit 2
fi
case $2 in
''|*[!0-9]*)
	echo "$0: SECONDS must be a number" >&2
	exit 2
	;;
esac
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$1" && pwd) || exit 2
targets="fuzz_scp_record fuzz_brace fuzz_operand fuzz_sftp_msg fuzz_scp_sink fuzz_scp_relay fuzz_sftp_conv fuzz_json fuzz_delta_sig fuzz_delta_patch"
ntargets=10
each=$(($2 / ntargets))
if [ "$each" -lt 3 ]; then
	each=3
fi
art=${FUZZ_ARTIFACTS:-$build/fuzz-artifacts}
mkdir -p "$art" || exit 2
work=$(mktemp -d "${TMPDIR:-/tmp}/scp-fuzz.XXXXXX") || exit 2
trap 'rm -rf "$work"' EXIT
trap 'exit 1' INT TERM HUP

failed=0
for t in $targets; do
	bin=$build/tests/fuzz/$t
	if [ ! -x "$bin" ]; then
		echo "fuzz $t: FAILED (not built: $bin)"
		failed=1
		continue
	fi
	mkdir -p "$work/$t/corpus" "$work/$t/tmp"
	if [ -d "$here/corpus/$t" ]; then
		cp "$here/corpus/$t"/* "$work/$t/corpus/" 2>/dev/null
	fi
	extra=""
	if [ "$t" = fuzz_sftp_msg ] || [ "$t" = fuzz_scp_sink ] ||
	    [ "$t" = fuzz_sftp_conv ]; then
		# The client's own "scp: ..." messages would drown the log;
		# sanitizer reports still come through (libFuzzer dups
		# stderr for them).
		extra=-close_fd_mask=2
	fi
	TMPDIR=$work/$t/tmp "$bin" $extra \
	    -max_total_time="$each" -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix="$art/$t-" \
	    "$work/$t/corpus" > "$work/$t/log" 2>&1
	rc=$?
	runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$work/$t/log" |
	    tail -n 1)
	if [ "$rc" -eq 0 ] && [ -n "$runs" ]; then
		echo "fuzz $t: ok ($runs runs)"
	else
		failed=1
		input=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' \
		    "$work/$t/log" | tail -n 1)
		echo "fuzz $t: CRASHED (exit $rc) input: ${input:-none}"
		grep -E 'ERROR|SUMMARY|runtime error|^    #[0-9] |fuzz_' \
		    "$work/$t/log" | head -n 25 | sed 's/^/    /'
		echo "    reproduce: $bin ${input:-<input>}"
	fi
done
exit $failed
