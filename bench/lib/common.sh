# bench/lib/common.sh: small helpers shared by the benchmark scripts.
# POSIX sh; sourced by bench/run.sh, never run on its own.

say () {
	printf '%s\n' "$*" >&2
}

die () {
	printf 'bench: %s\n' "$*" >&2
	exit 1
}

# now_ns: monotonic-enough wall clock in nanoseconds (GNU date).
now_ns () {
	date +%s%N
}

# ns_to_s NS: nanoseconds to seconds with 3 decimals.
ns_to_s () {
	awk -v n="$1" 'BEGIN { printf "%.3f", n / 1e9 }'
}

# is_uint S: true when S is a non-empty string of decimal digits.
is_uint () {
	case $1 in
	'' | *[!0-9]*) return 1 ;;
	esac
	return 0
}

# in_list WORD LIST: true when WORD is one of the comma, space or
# newline separated words of LIST.
in_list () {
	case ",$(printf '%s' "$2" | tr ' \n\t' ',,,'),"  in
	*",$1,"*) return 0 ;;
	esac
	return 1
}

# human_bytes N: 1536 -> "1.5 KiB".
human_bytes () {
	awk -v n="$1" 'BEGIN {
		split("B KiB MiB GiB TiB", u, " ");
		i = 1;
		while (n >= 1024 && i < 5) { n /= 1024; i++ }
		if (i == 1) { printf "%d %s", n, u[i] } else { printf "%.1f %s", n, u[i] }
	}'
}
