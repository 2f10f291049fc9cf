/*
 * Unit tests for the pure parts of remote operands (PROTOCOL.md section
 * 4): glob matching of one component, and path preparation ("", "~",
 * "~/x", "~user") and unescaping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "proto/sftp/glob.h"
#include "util/log.h"

static void
test_glob_match(void **state)
{
	static const struct {
		const char *pat, *name;
		int want;
	} t[] = {
		{ "*", "abc", 1 },
		{ "*", ".abc", 0 },
		{ ".*", ".abc", 1 },
		{ "\\.*", ".abc", 1 },
		{ "a*c", "abbbc", 1 },
		{ "a*c", "abbbd", 0 },
		{ "a?c", "abc", 1 },
		{ "a?c", "ac", 0 },
		{ "[abc]x", "bx", 1 },
		{ "[abc]x", "dx", 0 },
		{ "[a-c]", "b", 1 },
		{ "[a-c]", "d", 0 },
		{ "[!a-c]", "d", 1 },
		{ "[!a-c]", "a", 0 },
		{ "[]]", "]", 1 },
		{ "[!]]", "a", 1 },
		{ "[a", "[a", 1 },
		{ "\\*", "*", 1 },
		{ "\\*", "a", 0 },
		{ "a\\?", "a?", 1 },
		{ "{a,b}", "a", 0 },
		{ "{a,b}", "{a,b}", 1 },
		{ "*.txt", "x.txt", 1 },
		{ "*.txt", "x.txt.gz", 0 },
		{ "**", "zz", 1 },
		{ "", "", 1 },
		{ "a", "", 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (sftp_glob_match(t[i].pat, strlen(t[i].pat), t[i].name) !=
		    t[i].want) {
			fail_msg("pattern '%s' name '%s': want %d",
			    t[i].pat, t[i].name, t[i].want);
		}
	}
	assert_true(sftp_glob_has_magic("a*", 2));
	assert_true(sftp_glob_has_magic("[x", 2));
	assert_false(sftp_glob_has_magic("a\\*", 3));
	assert_false(sftp_glob_has_magic("{a,b}", 5));
}

static void
test_prepare_path(void **state)
{
	static const struct {
		const char *in, *out;
		int expand;
	} t[] = {
		{ "", ".", 0 },
		{ "~", ".", 0 },
		{ "~/", ".", 0 },
		{ "~/x", "x", 0 },
		{ "~/a/b", "a/b", 0 },
		{ "~bob/x", "~bob/x", 1 },
		{ "~bob", "~bob", 1 },
		{ "/abs", "/abs", 0 },
		{ "rel/x~", "rel/x~", 0 },
	};
	size_t i;
	char *p, *u;
	int ex;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		p = sftp_prepare_path_local(t[i].in, &ex);
		assert_string_equal(p, t[i].out);
		assert_int_equal(ex, t[i].expand);
		free(p);
	}
	u = sftp_glob_unescape("a\\*b\\\\c\\");
	assert_string_equal(u, "a*b\\c\\");
	free(u);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_glob_match),
		cmocka_unit_test(test_prepare_path),
	};

	signal(SIGPIPE, SIG_IGN);
	log_init("scp", LOG_QUIET, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
