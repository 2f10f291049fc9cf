#!/bin/sh
# --help (issue 16): the usage and every option, one line each, on
# stdout, exit 0; --help and doc/scp.1 list the same options (with the
# same argument names), so an option added to one and not the other
# fails here; every letter the binary accepts is in --help.  Unknown
# options keep OpenSSH's message and usage (PROTOCOL.md section 1).
. "$(dirname "$0")/lib.sh"

MAN=$REPO/doc/scp.1

# help_opts FILE: the options of a --help output, one per line, as
# "-c cipher" / "--timeout=seconds", sorted.
help_opts () {
	sed -n 's/^  \(-[^ ]*\( [^ -][^ ]*\)\{0,1\}\)  .*/\1/p' "$1" | sort
}

# man_opts: the same from the .It Fl entries of doc/scp.1 (.It Cm, the
# -X sub-options, are not options).
man_opts () {
	sed -n 's/^\.It Fl //p' "$MAN" |
	    sed 's/ Ns Oo = Ns Ar \([^ ]*\) Oc/[=\1]/; s/ Ns = Ns Ar /=/;
	    s/ Ar / /; s/\\-/-/g; s/^/-/' | sort
}

test_expect_success_ours 'scp --help: exit 0, text on stdout, nothing on stderr' '
	expect_rc 0 "$SCP" --help &&
	test -s out && test ! -s err &&
	head -n 1 out | grep "^usage: scp \[-346ABCOpqRrsTv\]"
'

test_expect_success_ours '--help lists our options and itself' '
	for o in --resume --inplace --timeout=seconds --fsync --help \
	    "-X sftp_option" -O -3; do
		help_opts out | grep -qx -- "$o" ||
		    { echo "missing from --help: $o"; exit 1; }
	done
'

test_expect_success_ours 'one line per option: no option listed twice' '
	help_opts out >h.opts &&
	test "$(wc -l <h.opts)" -ge 30 &&
	test -z "$(sed "s/[ =].*//" h.opts | uniq -d)"
'

test_expect_success_ours '--help and doc/scp.1 list the same options' '
	help_opts out >h.opts &&
	man_opts >m.opts &&
	test "$(wc -l <m.opts)" -ge 30 &&
	diff -u m.opts h.opts
'

test_expect_success_ours 'every letter the parser accepts is in --help' '
	help_opts out | sed -n "s/^-\([0-9A-Za-z]\).*/\1/p" >letters &&
	for c in 0 1 2 3 4 5 6 7 8 9 a b c d e f g h i j k l m n o p q r \
	    s t u v w x y z A B C D E F G H I J K L M N O P Q R S T U V W \
	    X Y Z; do
		timeout 10 "$SCP" -$c </dev/null >/dev/null 2>err.$c || :
		if grep -qx "$c" letters; then
			! grep -q "unknown option" err.$c ||
			    { echo "-$c listed but refused"; exit 1; }
		elif [ "$c" = M ]; then
			# OpenSSH 9.2 lists M in its optstring, handles it
			# nowhere: always a usage error, so not documented.
			grep -qx "scp: option requires an argument -- M" err.$c
		else
			grep -qx "scp: unknown option -- $c" err.$c ||
			    { echo "-$c accepted but not in --help"; exit 1; }
		fi
	done
'

test_expect_success_ours '--help wins among the options, even over bad ones' '
	expect_rc 0 "$SCP" -r -Z -P 0 --help a b &&
	test ! -s err && head -n 1 out | grep -q "^usage: scp" &&
	test ! -e b
'

test_expect_success '--help after -- or an operand is an operand' '
	mkfile src 10 &&
	expect_rc 1 "$SCP" -- --help &&
	! grep -q "^Options" out && grep -q "^usage: scp" err &&
	run_scp src --help && cmp src ./--help &&
	run_scp -- src --help2 && cmp src ./--help2
'

test_expect_success 'unknown options: message and usage on stderr, exit 1' '
	for a in -Z --nosuch; do
		expect_rc 1 "$SCP" $a a b &&
		test ! -s out &&
		grep -q "unknown option -- " err &&
		grep -q "^usage: scp \[-346ABCOpqRrsTv\]" err ||
		    { echo "case $a"; exit 1; }
	done
'

test_expect_success_ours '--help to a full disk: exit 1 and a message' '
	expect_rc 1 sh -c "exec \"\$0\" --help >/dev/full" "$SCP" &&
	grep -q "^scp: stdout: " err
'

test_done
