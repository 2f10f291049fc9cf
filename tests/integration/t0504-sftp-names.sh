#!/bin/sh
# SFTP mode with awkward file names (PROTOCOL.md §4): no remote shell is
# involved, but download sources are glob patterns (OpenBSD glob(3)), so
# metacharacters in a remote source are escaped with backslashes; upload
# targets are never globbed.
. "$(dirname "$0")/lib.sh"

cat >"$TRASH/names" <<'NAMES'
sp ace
two  spaces 
quote'single
dq"uote
star*
q?mark
[br]acket
{br,ace}
-lead
--
$dollar`tick`
semi;colon&amp|pipe
back\slash
ünïcødé-日本語
NAMES

# gq NAME: NAME escaped for glob(3) (a backslash before *?[\).
gq () {
	printf '%s' "$1" | sed 's/[][*?\\]/\\&/g'
}

test_expect_success 'setup files with odd names' '
	mkdir -p odd odd.up odd.down &&
	while IFS= read -r n; do
		mkfile "odd/$n" 1000 || exit 1
	done <names &&
	test "$(ls odd | wc -l)" = "$(wc -l <names)"
'

test_expect_success 'upload each odd name into a directory' '
	while IFS= read -r n; do
		run_scp -- "odd/$n" ours:$TRASH/odd.up/ || exit 1
		cmp "odd/$n" "odd.up/$n" || exit 1
	done <names
'

test_expect_success 'upload all odd names in one run' '
	mkdir -p odd.up2 &&
	(cd odd && run_scp -- * ours:$TRASH/odd.up2) &&
	same_tree odd odd.up2
'

test_expect_success 'download each odd name (glob-escaped remote path)' '
	while IFS= read -r n; do
		run_scp "ours:$TRASH/odd/$(gq "$n")" odd.down/ || exit 1
		cmp "odd/$n" "odd.down/$n" || exit 1
	done <names
'

test_expect_success 'upload to an odd remote target name (not globbed)' '
	mkfile plain 10 &&
	run_scp plain "ours:$TRASH/odd.up/target sp*ace [x]" &&
	cmp plain "odd.up/target sp*ace [x]"
'

test_expect_success '-r upload and download of a tree of odd names' '
	run_scp -r odd ours:$TRASH/oddtree.up &&
	same_tree odd oddtree.up &&
	run_scp -r ours:$TRASH/odd oddtree.down &&
	same_tree odd oddtree.down
'

# No vis-encoding in SFTP: a newline in a name arrives as is.
test_expect_success 'a newline in a name survives both ways' '
	mkdir -p nl nl.up nl.down &&
	nlname=$(printf "a\nb.") && nlname=${nlname%.} &&
	mkfile "nl/$nlname" 100 &&
	run_scp -- "nl/$nlname" ours:$TRASH/nl.up/ &&
	cmp "nl/$nlname" "nl.up/$nlname" &&
	run_scp "ours:$TRASH/nl/$nlname" nl.down/ &&
	cmp "nl/$nlname" "nl.down/$nlname" &&
	run_scp -r ours:$TRASH/nl nl.rdown &&
	cmp "nl/$nlname" "nl.rdown/$nlname"
'

test_expect_success 'a local source name starting with - after --' '
	mkdir -p dash.up && head -c 10 /dev/urandom >./-x &&
	run_scp -- -x ours:$TRASH/dash.up/ &&
	cmp ./-x dash.up/-x
'

test_expect_success 'a remote path starting with -' '
	mkfile plain2 10 &&
	n=-t0504-dash-$$ && mkdir -p "$TEST_HOME/$n" &&
	chown scptest: "$TEST_HOME/$n" &&
	run_scp plain2 "ours:$n" &&
	cmp plain2 "$TEST_HOME/$n/plain2" &&
	run_scp "ours:$n/plain2" plain2.back &&
	cmp plain2 plain2.back &&
	rm -rf "$TEST_HOME/$n"
'

test_done
