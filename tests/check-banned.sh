#!/bin/sh
# Fail if src/ calls a banned function (docs/HACKING.md "Conventions"):
# atoi, strtol/strtoul/strtoll/strtoull, sscanf, sprintf, strcpy, strcat,
# gets.  snprintf and vsnprintf are fine.  A mention followed by "(" in a
# comment is reported too, on purpose: reword the comment rather than
# teach this script C.
# Usage: tests/check-banned.sh [SRCDIR]   (default: <repo>/src)

here=$(cd "$(dirname "$0")" && pwd)
src=${1:-$here/../src}

# \b-style word boundary: the name must not be preceded by an identifier
# character (excludes snprintf, vsnprintf, xstrtol...) and must be
# followed by optional blanks and "(".
pat='(^|[^A-Za-z0-9_])(atoi|atol|atoll|strtol|strtoul|strtoll|strtoull|sscanf|sprintf|vsprintf|strcpy|strcat|gets)[[:space:]]*\('

hits=$(grep -rnE --include='*.c' --include='*.h' "$pat" "$src" 2>/dev/null)
if [ -n "$hits" ]; then
	echo "banned calls found (use src/util/parse.h, snprintf, memcpy):"
	echo "$hits"
	exit 1
fi
exit 0
