/* Unit tests for src/fs/name: validation of names a peer sends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fs/name.h"

static void
test_name_is_safe(void **state)
{
	static const struct {
		const char *name;
		int safe;
	} t[] = {
		{ "file", 1 },
		{ ".hidden", 1 },
		{ "..a", 1 },
		{ "a..", 1 },
		{ "...", 1 },
		{ "-leading-dash", 1 },
		{ "sp ace", 1 },
		{ "new\nline", 1 },	/* legal on disk; printing escapes it */
		{ "\xc3\xa9t\xc3\xa9", 1 },
		{ "", 0 },
		{ ".", 0 },
		{ "..", 0 },
		{ "/", 0 },
		{ "a/b", 0 },
		{ "../x", 0 },
		{ "/abs", 0 },
		{ "trailing/", 0 },
		{ "./x", 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (name_is_safe(t[i].name) != t[i].safe) {
			fail_msg("name_is_safe(\"%s\") != %d", t[i].name,
			    t[i].safe);
		}
	}
}

static void
test_name_basename(void **state)
{
	static const struct {
		const char *path, *base;
	} t[] = {
		{ "a", "a" },
		{ "dir/a", "a" },
		{ "/abs/dir/a", "a" },
		{ "dir/", "dir" },
		{ "dir///", "dir" },
		{ "/", "/" },
		{ "///", "/" },
		{ "", "." },
		{ "a/..", ".." },
		{ "x/.", "." },
	};
	size_t i;
	char *b;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		b = name_basename(t[i].path);
		if (b == NULL || strcmp(b, t[i].base) != 0) {
			fail_msg("name_basename(\"%s\") = \"%s\", want \"%s\"",
			    t[i].path, b == NULL ? "(null)" : b, t[i].base);
		}
		free(b);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_is_safe),
		cmocka_unit_test(test_name_basename),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
