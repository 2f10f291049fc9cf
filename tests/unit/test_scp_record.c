/* Unit tests for src/proto/scp/record.c (PROTOCOL.md section 2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* Table rows name only the fields that matter. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include "proto/scp/record.h"
#include "util/err.h"

struct cd_case {
	const char *line;
	int ret;
	const char *why;	/* expected message, or NULL on success */
	char type;
	unsigned int mode;
	uint64_t size;
	const char *name;
};

static const struct cd_case cd_cases[] = {
	{ "C0644 5 a", 0, NULL, 'C', 0644, 5, "a" },
	{ "D0755 0 dir", 0, NULL, 'D', 0755, 0, "dir" },
	{ "C7777 0 x", 0, NULL, 'C', 07777, 0, "x" },
	{ "C0777 0 x", 0, NULL, 'C', 0777, 0, "x" },
	{ "C0644 0 ", 0, NULL, 'C', 0644, 0, "" },
	{ "C0644 1 a b  c", 0, NULL, 'C', 0644, 1, "a b  c" },
	{ "C0644 9223372036854775807 big", 0, NULL, 'C', 0644,
	    INT64_MAX, "big" },
	{ "C0644 9223372036854775808 x", SCP_E_RANGE, "size out of range" },
	{ "C0644 99999999999999999999 x", SCP_E_RANGE, "size out of range" },
	{ "C0644 99999999999999999999x", SCP_E_FORMAT, "size not delimited" },
	{ "C0644 5x a", SCP_E_FORMAT, "size not delimited" },
	{ "C0644 5", SCP_E_FORMAT, "size not delimited" },
	{ "C0644 -5 a", SCP_E_FORMAT, "size not present" },
	{ "C0644  5 a", SCP_E_FORMAT, "size not present" },
	{ "C0644 ", SCP_E_FORMAT, "size not present" },
	{ "C0648 5 a", SCP_E_FORMAT, "bad mode" },
	{ "C644 5 a", SCP_E_FORMAT, "bad mode" },
	{ "C 644 5 a", SCP_E_FORMAT, "bad mode" },
	{ "C", SCP_E_FORMAT, "bad mode" },
	{ "C06440 5 a", SCP_E_FORMAT, "mode not delimited" },
	{ "C0644", SCP_E_FORMAT, "mode not delimited" },
	{ "C0644x5 a", SCP_E_FORMAT, "mode not delimited" },
	{ "X0644 5 a", SCP_E_FORMAT, "expected control record" },
};

static void
test_parse_cd(void **state)
{
	struct scp_record_cd r;
	const char *why;
	size_t i;
	int ret;

	(void)state;
	for (i = 0; i < sizeof(cd_cases) / sizeof(cd_cases[0]); i++) {
		const struct cd_case *k = &cd_cases[i];

		memset(&r, 0, sizeof(r));
		ret = scp_record_parse_cd(k->line, &r, &why);
		print_message("cd %zu: %s -> %d %s\n", i, k->line, ret,
		    why != NULL ? why : "ok");
		assert_int_equal(ret, k->ret);
		if (k->why == NULL) {
			assert_null(why);
			assert_int_equal(r.type, k->type);
			assert_int_equal(r.mode, k->mode);
			assert_true(r.size == k->size);
			assert_string_equal(r.name, k->name);
		} else {
			assert_non_null(why);
			assert_string_equal(why, k->why);
		}
	}
}

struct t_case {
	const char *line;
	int ret;
	const char *why;
	int valid;
	long long mtime, atime;
	long musec, ausec;
};

static const struct t_case t_cases[] = {
	{ "T1 0 2 0", 0, NULL, 1, 1, 2, 0, 0 },
	{ "T1700000000 999999 1600000000 5", 0, NULL, 1, 1700000000,
	    1600000000, 999999, 5 },
	{ "T0 0 0 0", 0, NULL, 1, 0, 0, 0, 0 },
	{ "T9223372036854775807 0 1 0", 0, NULL, 1, INT64_MAX, 1, 0, 0 },
	/* Out of range: ignored, not fatal. */
	{ "T9223372036854775808 0 1 0", 0, NULL, 0 },
	{ "T1 0 99999999999999999999 0", 0, NULL, 0 },
	{ "T", SCP_E_FORMAT, "mtime.sec not present" },
	{ "Tx 0 1 0", SCP_E_FORMAT, "mtime.sec not present" },
	{ "T-1 0 1 0", SCP_E_FORMAT, "mtime.sec not present" },
	{ "T1", SCP_E_FORMAT, "mtime.sec not delimited" },
	{ "T1x0 1 0", SCP_E_FORMAT, "mtime.sec not delimited" },
	{ "T1 1000000 1 0", SCP_E_FORMAT, "mtime.usec not delimited" },
	{ "T1 -1 1 0", SCP_E_FORMAT, "mtime.usec not delimited" },
	{ "T1 0", SCP_E_FORMAT, "mtime.usec not delimited" },
	{ "T1  0 1 0", SCP_E_FORMAT, "mtime.usec not delimited" },
	{ "T1 0 ", SCP_E_FORMAT, "atime.sec not present" },
	{ "T1 0 x 0", SCP_E_FORMAT, "atime.sec not present" },
	{ "T1 0 1", SCP_E_FORMAT, "atime.sec not delimited" },
	{ "T1 0 1x", SCP_E_FORMAT, "atime.sec not delimited" },
	{ "T1 0 1 ", SCP_E_FORMAT, "atime.usec not delimited" },
	{ "T1 0 1 0 ", SCP_E_FORMAT, "atime.usec not delimited" },
	{ "T1 0 1 1000000", SCP_E_FORMAT, "atime.usec not delimited" },
	{ "T1 0 1 0x", SCP_E_FORMAT, "atime.usec not delimited" },
};

static void
test_parse_t(void **state)
{
	struct scp_record_times t;
	const char *why;
	size_t i;
	int ret;

	(void)state;
	for (i = 0; i < sizeof(t_cases) / sizeof(t_cases[0]); i++) {
		const struct t_case *k = &t_cases[i];

		memset(&t, 0xff, sizeof(t));
		ret = scp_record_parse_t(k->line, &t, &why);
		print_message("t %zu: %s -> %d %s\n", i, k->line, ret,
		    why != NULL ? why : "ok");
		assert_int_equal(ret, k->ret);
		if (k->why != NULL) {
			assert_non_null(why);
			assert_string_equal(why, k->why);
			continue;
		}
		assert_null(why);
		assert_int_equal(t.valid, k->valid);
		if (k->valid) {
			assert_true((long long)t.mtime == k->mtime);
			assert_true((long long)t.atime == k->atime);
			assert_int_equal(t.mtime_usec, k->musec);
			assert_int_equal(t.atime_usec, k->ausec);
		}
	}
}

static void
test_format_cd(void **state)
{
	char *s;

	(void)state;
	assert_int_equal(scp_record_format_cd('C', 0100644, 5, "a", &s), 0);
	assert_string_equal(s, "C0644 5 a\n");
	free(s);
	/* Sticky is dropped, setuid/setgid kept (FILEMODEMASK). */
	assert_int_equal(scp_record_format_cd('C', 07777, 0, "x", &s), 0);
	assert_string_equal(s, "C6777 0 x\n");
	free(s);
	assert_int_equal(scp_record_format_cd('D', 040755, 99, "d", &s), 0);
	assert_string_equal(s, "D0755 0 d\n");
	free(s);
	assert_int_equal(scp_record_format_cd('C', 0600, INT64_MAX, "b", &s),
	    0);
	assert_string_equal(s, "C0600 9223372036854775807 b\n");
	free(s);
	assert_int_equal(scp_record_format_cd('C', 0600,
	    (uint64_t)INT64_MAX + 1, "b", &s), SCP_E_RANGE);
	assert_null(s);
	/* Newline names are vis-encoded (obs: a\nb -> a\^Jb). */
	assert_int_equal(scp_record_format_cd('C', 0644, 1, "a\nb", &s), 0);
	assert_string_equal(s, "C0644 1 a\\^Jb\n");
	free(s);
	assert_int_equal(scp_record_format_cd('C', 0644, 1, "sp ace", &s), 0);
	assert_string_equal(s, "C0644 1 sp ace\n");
	free(s);
}

static void
test_format_cd_long_dir(void **state)
{
	char name[2000], *s;

	(void)state;
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(scp_record_format_cd('D', 0755, 0, name, &s), 0);
	/* "D0755 0 " + 1024 + "\n" */
	assert_int_equal(strlen(s), 8 + 1024 + 1);
	free(s);
}

static void
test_format_t(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(scp_record_format_t(buf, sizeof(buf), 5, 6), 0);
	assert_string_equal(buf, "T5 0 6 0\n");
	assert_int_equal(scp_record_format_t(buf, sizeof(buf), -5, -1), 0);
	assert_string_equal(buf, "T0 0 0 0\n");
	assert_int_equal(scp_record_format_t(buf, sizeof(buf), INT64_MAX, 0),
	    0);
	assert_string_equal(buf, "T9223372036854775807 0 0 0\n");
	assert_int_equal(scp_record_format_t(buf, 4, 5, 6), SCP_E_TOOBIG);
}

/* What the formatter writes, the parser reads back. */
static void
test_roundtrip(void **state)
{
	struct scp_record_cd r;
	struct scp_record_times t;
	const char *why;
	char buf[64], *s;

	(void)state;
	assert_int_equal(scp_record_format_cd('C', 0640, 123, "f g", &s), 0);
	s[strlen(s) - 1] = '\0';
	assert_int_equal(scp_record_parse_cd(s, &r, &why), 0);
	assert_int_equal(r.mode, 0640);
	assert_true(r.size == 123);
	assert_string_equal(r.name, "f g");
	free(s);
	assert_int_equal(scp_record_format_t(buf, sizeof(buf), 77, 88), 0);
	buf[strlen(buf) - 1] = '\0';
	assert_int_equal(scp_record_parse_t(buf, &t, &why), 0);
	assert_int_equal(t.valid, 1);
	assert_true(t.mtime == 77 && t.atime == 88);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_cd),
		cmocka_unit_test(test_parse_t),
		cmocka_unit_test(test_format_cd),
		cmocka_unit_test(test_format_cd_long_dir),
		cmocka_unit_test(test_format_t),
		cmocka_unit_test(test_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
