#!/bin/sh
# Server mode (`scp -t`, run directly, no ssh) fed crafted source streams:
# the sink checks of PROTOCOL.md §2 apply on the server side too.  Every
# case must exit non-zero and write nothing outside the target directory.
# Replies go to stdout (kept in ./acks); errors are sent there, not
# printed (iamremote).
. "$(dirname "$0")/lib.sh"

# sink_feed NAME FLAGS STREAM: printf-format STREAM into `scp FLAGS -t`
# on $TRASH/NAME/target (inside the sentinel $TRASH/NAME).
sink_feed () {
	rm -rf "${TRASH:?}/$1" && sentinel "$TRASH/$1" &&
	mkdir -p "$TRASH/$1/target" || return 1
	_st=0
	# shellcheck disable=SC2059
	printf "$3" | timeout -k 5 30 "$SCP" $2 -t "$TRASH/$1/target" \
	    >acks 2>err || _st=$?
	od -c acks | head -n 5 >&2
	cat err >&2
	echo "exit status $_st" >&2
	if [ "$_st" -eq 0 ] || [ "$_st" -ge 124 ] && [ "$_st" -lt 160 ]; then
		echo "want a plain failure" >&2
		return 1
	fi
	check_sentinel "$TRASH/$1" &&
	test -z "$(ls -A "$TRASH/$1/target")"
}

test_expect_success 'sanity: a good stream is accepted' '
	mkdir -p good &&
	printf "C0644 5 f\nxxxxx\000" | timeout 30 "$SCP" -t "$TRASH/good" \
	    >acks &&
	test "$(cat good/f)" = xxxxx &&
	test "$(od -An -c acks | tr -d " ")" = "\0\0\0"
'

test_expect_success 'C ../x refused' '
	sink_feed c1 "" "C0644 5 ../x\nxxxxx\000"
'

test_expect_success 'C a/b refused' '
	sink_feed c2 "" "C0644 5 a/b\nxxxxx\000"
'

test_expect_success 'C with an absolute name refused' '
	sink_feed c3 "" "C0644 5 $TRASH/c3/abs\nxxxxx\000"
'

test_expect_success 'C .. and C . and an empty name refused' '
	sink_feed c4 "" "C0644 5 ..\nxxxxx\000" &&
	sink_feed c5 "" "C0644 5 .\nxxxxx\000" &&
	sink_feed c6 "" "C0644 5 \nxxxxx\000"
'

test_expect_success 'D .. with -r refused' '
	sink_feed d1 -r "D0755 0 ..\nC0644 5 pwned\nxxxxx\000E\n"
'

test_expect_success 'D . with -r refused' '
	sink_feed d2 -r "D0755 0 .\nC0644 5 x\nxxxxx\000E\n"
'

test_expect_success 'D without -r refused' '
	sink_feed d3 "" "D0755 0 dir\nC0644 5 x\nxxxxx\000E\n"
'

test_expect_success 'size 2^63 and a malformed mode refused' '
	sink_feed s1 "" "C0644 9223372036854775808 big\nxxxxx\000" &&
	sink_feed s2 "" "C06x4 5 m\nxxxxx\000" &&
	sink_feed s3 "" "C0644 5x m\nxxxxx\000"
'

test_expect_success 'T garbage refused' '
	sink_feed t1 "" "T1x 0 1 0\nC0644 5 t\nxxxxx\000"
'

test_expect_success 'garbage first record refused' '
	sink_feed g1 "" "hello\n"
'

test_expect_success 'stream ends inside the data: failure' '
	rm -rf "$TRASH/e1" && sentinel "$TRASH/e1" && mkdir -p e1/target &&
	expect_fail sh -c "printf \"C0644 100 short\\nxxxxx\" |
	    timeout 30 \"\$SCP\" -t \"$TRASH/e1/target\" >acks" &&
	check_sentinel "$TRASH/e1"
'

test_expect_success '-d with a non-directory target fails' '
	: >notdir &&
	expect_fail sh -c "printf \"C0644 5 f\\nxxxxx\\000\" |
	    timeout 30 \"\$SCP\" -d -t \"$TRASH/notdir\" >acks" &&
	test ! -s notdir
'

test_done
