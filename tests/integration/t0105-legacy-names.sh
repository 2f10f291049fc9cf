#!/bin/sh
# Legacy protocol with awkward file names: local names never meet a shell;
# remote paths do (PROTOCOL.md §2 "Remote command": PATH is not quoted), so
# downloads escape them with backslashes, which the sink's name-vs-request
# check (fnmatch, CVE-2019-6111) also understands.
. "$(dirname "$0")/lib.sh"

# The names, one per line in ./names (the newline one is handled apart).
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

# rq NAME: NAME escaped for the remote shell (every byte that is not
# plainly safe gets a backslash).
rq () {
	printf '%s' "$1" | sed 's/[^A-Za-z0-9/._]/\\&/g'
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
		run_scp -O -- "odd/$n" ours:$TRASH/odd.up/ || exit 1
		cmp "odd/$n" "odd.up/$n" || exit 1
	done <names
'

test_expect_success 'upload all odd names in one run' '
	mkdir -p odd.up2 &&
	(cd odd && run_scp -O -- * ours:$TRASH/odd.up2) &&
	same_tree odd odd.up2
'

test_expect_success 'download each odd name (escaped remote path)' '
	while IFS= read -r n; do
		run_scp -O "ours:$TRASH/odd/$(rq "$n")" odd.down/ || exit 1
		cmp "odd/$n" "odd.down/$n" || exit 1
	done <names
'

test_expect_success 'upload to an odd remote target name' '
	mkfile plain 10 &&
	run_scp -O plain "ours:$TRASH/odd.up/$(rq "target sp*ace")" &&
	cmp plain "odd.up/target sp*ace"
'

test_expect_success '-r upload and download of a tree of odd names' '
	run_scp -O -r odd ours:$TRASH/oddtree.up &&
	same_tree odd oddtree.up &&
	run_scp -O -r ours:$TRASH/odd oddtree.down &&
	same_tree odd oddtree.down
'

# §2 step 6: a newline in a name is vis-encoded on the wire, so it arrives
# as the four characters \^J.
test_expect_success 'a newline in a name arrives vis-encoded (\^J)' '
	mkdir -p nl nl.up &&
	nlname=$(printf "a\nb.") && nlname=${nlname%.} &&
	mkfile "nl/$nlname" 100 &&
	run_scp -O -- "nl/$nlname" ours:$TRASH/nl.up/ &&
	cmp "nl/$nlname" "nl.up/a\\^Jb"
'

test_expect_success 'a local source name starting with - after --' '
	mkdir -p dash.up && head -c 10 /dev/urandom >./-x &&
	run_scp -O -- -x ours:$TRASH/dash.up/ &&
	cmp ./-x dash.up/-x
'

# "scp -t -- -name": without the "--" the remote scp would take the path
# for options.
test_expect_success 'a remote path starting with - (sent after --)' '
	mkfile plain2 10 &&
	n=-t0105-dash-$$ && mkdir -p "$TEST_HOME/$n" &&
	chown scptest: "$TEST_HOME/$n" &&
	run_scp -O plain2 "ours:$n" &&
	cmp plain2 "$TEST_HOME/$n/plain2" &&
	run_scp -O "ours:$n/plain2" plain2.back &&
	cmp plain2 plain2.back &&
	rm -rf "$TEST_HOME/$n"
'

test_done
