#!/bin/sh
# Remote paths in SFTP mode (PROTOCOL.md §4 "Paths"): "", "~", "~/x",
# "~user/x" (expand-path@openssh.com); download sources are globbed with
# OpenBSD glob(3) semantics: * ? [...] and backslash escapes, no braces.
. "$(dirname "$0")/lib.sh"

H=t0508-$$
cleanup_home () {
	rm -rf "$TEST_HOME/$H"
}
trap cleanup_home EXIT

test_expect_success 'setup' '
	mkfile f 1000 &&
	mkdir -p "$TEST_HOME/$H" && chown scptest: "$TEST_HOME/$H" &&
	mkdir -p g && mkfile g/a1 10 && mkfile g/a2 20 && mkfile g/b1 30 &&
	mkfile g/ab 40 && mkfile "g/st*r" 50 && mkfile "g/{a1,b1}" 60 &&
	mkfile "g/q?" 70 && mkfile g/.hidden 80
'

test_expect_success 'upload to "~" and "~/x" (home-relative)' '
	mkdir -p "$TEST_HOME/$H/in" && chown scptest: "$TEST_HOME/$H/in" &&
	run_scp f "ours:~/$H/tilde1" &&
	cmp f "$TEST_HOME/$H/tilde1" &&
	n=t0508-tilde-$$ &&
	run_scp f "ours:~" && cmp f "$TEST_HOME/f" && rm -f "$TEST_HOME/f"
'

test_expect_success 'upload to "~scptest/x" (expand-path)' '
	run_scp f "ours:~scptest/$H/tilde2" &&
	cmp f "$TEST_HOME/$H/tilde2"
'

test_expect_success 'upload to "~nosuchuser/x": fatal 255' '
	expect_rc 255 run_scp f "ours:~nosuchuser-$$/x" &&
	grep_err "no such user"
'

test_expect_success 'download from "~/x", "~scptest/x" and a relative path' '
	run_scp "ours:~/$H/tilde1" d1 && cmp f d1 &&
	run_scp "ours:~scptest/$H/tilde2" d2 && cmp f d2 &&
	run_scp "ours:$H/tilde1" d3 && cmp f d3
'

test_expect_success 'upload to the empty path = home' '
	mkfile "t0508-e-$$" 5 &&
	run_scp "t0508-e-$$" ours: &&
	cmp "t0508-e-$$" "$TEST_HOME/t0508-e-$$" &&
	rm -f "$TEST_HOME/t0508-e-$$"
'

test_expect_success '-r download of "~/dir"' '
	run_scp -r "ours:~/$H" homedir &&
	cmp f homedir/tilde1
'

test_expect_success 'glob *: all but dot files' '
	run_scp "ours:$TRASH/g/*" gstar &&
	test "$(ls -A gstar | sort | tr "\n" " ")" = "a1 a2 ab b1 q? st*r {a1,b1} "
'

test_expect_success 'glob ?: one character' '
	run_scp "ours:$TRASH/g/a?" gq &&
	test "$(ls -A gq | sort | tr "\n" " ")" = "a1 a2 ab "
'

test_expect_success 'glob [...] and [!...]' '
	run_scp "ours:$TRASH/g/[ab]1" gb &&
	test "$(ls -A gb | sort | tr "\n" " ")" = "a1 b1 " &&
	run_scp "ours:$TRASH/g/a[!1]" gn &&
	test "$(ls -A gn | sort | tr "\n" " ")" = "a2 ab "
'

test_expect_success 'backslash escapes a metacharacter' '
	mkdir -p ge &&
	run_scp "ours:$TRASH/g/st\\*r" ge/ &&
	cmp "g/st*r" "ge/st*r" && test "$(ls -A ge | wc -l)" = 1 &&
	run_scp "ours:$TRASH/g/q\\?" ge/ &&
	cmp "g/q?" "ge/q?"
'

test_expect_success 'braces are not expanded (a literal name)' '
	mkdir -p gbr &&
	run_scp "ours:$TRASH/g/{a1,b1}" gbr/ &&
	test "$(ls -A gbr)" = "{a1,b1}" &&
	cmp "g/{a1,b1}" "gbr/{a1,b1}" &&
	rm "g/{a1,b1}" &&
	expect_rc 1 run_scp "ours:$TRASH/g/{a1,b1}" gbr2 &&
	grep_err "No such file or directory" &&
	test ! -e gbr2
'

# glob(3)'s NOCHECK: a pattern that matches nothing is the literal name,
# and a directory under that name is copied as one (-r), as OpenSSH does.
test_expect_success 'a pattern matching nothing: the literal directory (-r)' '
	mkdir -p "gl/dir.glob[456]/sub" &&
	mkfile "gl/dir.glob[456]/a" 10 && mkfile "gl/dir.glob[456]/sub/b" 20 &&
	run_scp -r "ours:$TRASH/gl/dir.glob[456]" glout &&
	same_tree "gl/dir.glob[456]" glout &&
	mkdir -p glin &&
	run_scp -r "ours:$TRASH/gl/dir.glob[456]" glin &&
	same_tree "gl/dir.glob[456]" "glin/dir.glob[456]" &&
	run_scp -3 -r "ours:$TRASH/gl/dir.glob[456]" ours:$TRASH/gl3 &&
	same_tree "gl/dir.glob[456]" gl3 &&
	expect_rc 1 run_scp "ours:$TRASH/gl/dir.glob[456]" glnor &&
	grep_err "not a regular file" && test ! -e glnor
'

test_expect_success 'dot files only by an explicit dot' '
	run_scp "ours:$TRASH/g/.h*" gh &&
	cmp g/.hidden gh
'

test_expect_success 'a glob in a directory component' '
	mkdir -p g2/x1 g2/x2 && mkfile g2/x1/f 5 && mkfile g2/x2/f 6 &&
	mkdir -p gd/1 &&
	run_scp "ours:$TRASH/g2/x1/f" gd/1 &&
	run_scp "ours:$TRASH/g2/x[1]/f" gd/1/f2 &&
	cmp g2/x1/f gd/1/f2 &&
	run_scp -r "ours:$TRASH/g2/x*" gdr &&
	cmp g2/x1/f gdr/x1/f && cmp g2/x2/f gdr/x2/f
'

test_expect_success 'upload targets are never globbed' '
	mkdir -p "ut*" &&
	run_scp f "ours:$TRASH/ut*/f1" &&
	cmp f "ut*/f1" &&
	run_scp f "ours:$TRASH/u?[x]" &&
	cmp f "u?[x]"
'

test_done
