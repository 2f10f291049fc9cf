#!/bin/sh
# The file-size rule (docs/HACKING.md): no C source or header in src/,
# tests/ or bench/ over 800 lines, except those in tests/size-debt.txt,
# which may not grow past their ceilings and must leave the list once
# they are back under the limit.  Prints each violation; exit 1 if any.
# Usage: tests/check-size.sh [REPO]   (default: this script's repo)
set -u
top=${1:-$(cd "$(dirname "$0")/.." && pwd)}
debt=$top/tests/size-debt.txt
limit=800
rc=0
cd "$top" || exit 2
list=$(find src tests bench -name '*.[ch]' -type f 2>/dev/null | sort)
for f in $list; do
	n=$(wc -l <"$f")
	ceil=$(awk -v f="$f" '$1 == f { print $2 }' "$debt")
	if [ -z "$ceil" ]; then
		if [ "$n" -gt "$limit" ]; then
			echo "$f: $n lines, over $limit (split it by" \
			    "responsibility)"
			rc=1
		fi
	elif [ "$n" -gt "$ceil" ]; then
		echo "$f: $n lines, over its ceiling $ceil in" \
		    "tests/size-debt.txt (it may only shrink)"
		rc=1
	elif [ "$n" -le "$limit" ]; then
		echo "$f: $n lines, under $limit now: remove its line from" \
		    "tests/size-debt.txt"
		rc=1
	fi
done
# A listed file that no longer exists is a stale line too.
for f in $(awk '!/^#/ && NF { print $1 }' "$debt"); do
	if [ ! -f "$f" ]; then
		echo "$f: listed in tests/size-debt.txt but gone: remove its line"
		rc=1
	fi
done
exit $rc
