/*
 * Unit tests for src/proto/scp/match.c: OpenSSH's brace_expand() and the
 * CVE-2019-6111 name check (PROTOCOL.md section 2).  Cases follow
 * OpenSSH's regress (scp3/scp-uri brace tests).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "proto/scp/match.h"
#include "util/err.h"
#include "util/strvec.h"

struct brace_case {
	const char *pattern;
	int ret;
	const char *want[8];	/* sorted expected expansions */
};

static const struct brace_case brace_cases[] = {
	{ "plain", 0, { "plain" } },
	{ "{a,b}", 0, { "a", "b" } },
	{ "x{a,b}y", 0, { "xay", "xby" } },
	{ "{a,b}{1,2}", 0, { "a1", "a2", "b1", "b2" } },
	{ "{a,{b,c}}", 0, { "a", "b", "c" } },
	{ "{a,b{c,d}}e", 0, { "ae", "bce", "bde" } },
	{ "{a}", 0, { "a" } },
	{ "{,a}", 0, { "", "a" } },
	{ "{}", 0, { "{}" } },
	{ "a{}b", 0, { "a{}b" } },
	{ "\\{a,b\\}", 0, { "\\{a,b\\}" } },
	/* An escaped "{" leaves its "}" unbalanced (as in OpenSSH). */
	{ "\\{a,b}", SCP_E_FORMAT, { NULL } },
	{ "{a\\,b,c}", 0, { "a\\,b", "c" } },
	{ "[{]", 0, { "[{]" } },
	{ "{[,],x}", 0, { "[,]", "x" } },
	{ "d/{a,b}/f", 0, { "d/a/f", "d/b/f" } },
	{ "*.{c,h}", 0, { "*.c", "*.h" } },
	{ "{a,b", SCP_E_FORMAT, { NULL } },
	{ "a}", SCP_E_FORMAT, { NULL } },
	{ "{a,{b}", SCP_E_FORMAT, { NULL } },
	{ "[abc", SCP_E_FORMAT, { NULL } },
	{ "{a,[b}", SCP_E_FORMAT, { NULL } },
};

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
test_brace_expand(void **state)
{
	struct strvec out;
	size_t i, j, nwant;
	int r;

	(void)state;
	for (i = 0; i < sizeof(brace_cases) / sizeof(brace_cases[0]); i++) {
		const struct brace_case *k = &brace_cases[i];

		strvec_init(&out);
		r = scp_brace_expand(k->pattern, &out);
		print_message("%s -> %d (%zu)\n", k->pattern, r, out.n);
		assert_int_equal(r, k->ret);
		if (k->ret == 0) {
			for (nwant = 0; k->want[nwant] != NULL; nwant++) {
				continue;
			}
			assert_int_equal(out.n, nwant);
			qsort(out.v, out.n, sizeof(char *), cmp_str);
			for (j = 0; j < nwant; j++) {
				assert_string_equal(out.v[j], k->want[j]);
			}
		}
		strvec_clear(&out);
	}
}

struct match_case {
	const char *requested;
	const char *name;
	int match;
};

static const struct match_case match_cases[] = {
	{ "file", "file", 1 },
	{ "dir/file", "file", 1 },
	{ "/abs/dir/file", "file", 1 },
	{ "dir/file", "other", 0 },
	{ "dir/*.txt", "a.txt", 1 },
	{ "dir/*.txt", "a.exe", 0 },
	{ "dir/{a,b}", "a", 1 },
	{ "dir/{a,b}", "b", 1 },
	{ "dir/{a,b}", "c", 0 },
	{ "{x/a,y/b}", "b", 1 },
	{ "f?o", "foo", 1 },
	{ "[ab]x", "bx", 1 },
	{ "[ab]x", "cx", 0 },
	/* strcmp first: a name with glob characters matches itself. */
	{ "[x]", "[x]", 1 },
	{ "[x]", "x", 1 },
	{ "a{}b", "a{}b", 1 },
	/* Hidden files need an explicit dot? fnmatch(3) flags 0: no. */
	{ "*", ".hidden", 1 },
	{ "*", "x", 1 },
	{ "dir/", "x", 0 },
};

static void
test_match(void **state)
{
	struct strvec pats;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
		const struct match_case *k = &match_cases[i];

		strvec_init(&pats);
		assert_int_equal(scp_match_prepare(k->requested, &pats), 0);
		print_message("%s vs %s\n", k->requested, k->name);
		assert_int_equal(scp_match_name(&pats, k->name), k->match);
		strvec_clear(&pats);
	}
}

static void
test_match_invalid(void **state)
{
	struct strvec pats;

	(void)state;
	strvec_init(&pats);
	assert_int_equal(scp_match_prepare("dir/{a,b", &pats), SCP_E_FORMAT);
	strvec_clear(&pats);
	/* An unclosed bracket is refused too (OpenSSH: fatal). */
	assert_int_equal(scp_match_prepare("we[ird", &pats), SCP_E_FORMAT);
	strvec_clear(&pats);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_brace_expand),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_match_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
