/* Unit tests for src/util/json.c (the --json string escaping) and the
 * total line's formatting (src/util/total.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/json.h"
#include "util/report.h"

/* Escapes in[0..n) and checks the text, then that it decodes back. */
static void
check(const char *in, size_t n, const char *want)
{
	struct jbuf b, d;
	size_t used = 0;

	jbuf_init(&b);
	jbuf_init(&d);
	json_escape(&b, in, n);
	assert_string_equal(b.p, want);
	assert_int_equal(json_unescape(b.p, b.len, &d, &used), 0);
	assert_int_equal(used, b.len);
	assert_int_equal(d.len, n);
	assert_memory_equal(d.p != NULL ? d.p : "", in, n);
	jbuf_free(&b);
	jbuf_free(&d);
}

static void
test_json_plain(void **state)
{
	(void)state;
	check("", 0, "\"\"");
	check("abc/d e", 7, "\"abc/d e\"");
	check("q\"b\\s", 5, "\"q\\\"b\\\\s\"");
	check("a\nb\tc\r", 6, "\"a\\nb\\tc\\r\"");
	check("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\x7f\"");
	check("a\0b", 3, "\"a\\u0000b\"");
}

static void
test_json_utf8(void **state)
{
	(void)state;
	/* Valid UTF-8 passes as is: é, €, U+1F600. */
	check("\xc3\xa9", 2, "\"\xc3\xa9\"");
	check("\xe2\x82\xac", 3, "\"\xe2\x82\xac\"");
	check("\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\"");
}

static void
test_json_bytes(void **state)
{
	(void)state;
	/* Not UTF-8: each such byte is \udcXX (surrogateescape). */
	check("n\xff\xfe", 3, "\"n\\udcff\\udcfe\"");
	check("\x80", 1, "\"\\udc80\"");
	/* Overlong '/', a UTF-8-encoded surrogate, past U+10FFFF. */
	check("\xc0\xaf", 2, "\"\\udcc0\\udcaf\"");
	check("\xed\xa0\x80", 3, "\"\\udced\\udca0\\udc80\"");
	check("\xf4\x90\x80\x80", 4, "\"\\udcf4\\udc90\\udc80\\udc80\"");
	/* A sequence cut short, then valid text. */
	check("\xe2\x82" "a", 3, "\"\\udce2\\udc82a\"");
}

static void
test_json_unescape_bad(void **state)
{
	static const char *const bad[] = {
		"", "abc", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"",
		"\"\\udc00\"", "\"\x01\"", "\"\xff\"",
	};
	struct jbuf d;
	size_t i, used;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		jbuf_init(&d);
		assert_int_equal(json_unescape(bad[i], strlen(bad[i]), &d,
		    &used), -1);
		jbuf_free(&d);
	}
	/* A pair is one character. */
	jbuf_init(&d);
	assert_int_equal(json_unescape("\"\\ud83d\\ude00\"", 14, &d, &used), 0);
	assert_string_equal(d.p, "\xf0\x9f\x98\x80");
	jbuf_free(&d);
}

static void
test_total_format(void **state)
{
	struct report_totals t;
	char line[256];

	(void)state;
	memset(&t, 0, sizeof(t));
	t.files_done = 3;
	t.files_total = 10;
	t.bytes_done = 5 * 1024 * 1024;
	t.bytes_total = 10 * 1024 * 1024;
	t.current = "name";
	total_format(line, sizeof(line), 80, &t, 1024.0 * 1024, 5, 0);
	assert_string_equal(line,
	    "3/10 files 5.0MB/10MB  50% 1.0MB/s 00:05 ETA name");
	/* Still counting: no ETA, a "+" on the totals. */
	t.counting = 1;
	total_format(line, sizeof(line), 80, &t, 1024.0 * 1024, 5, 0);
	assert_string_equal(line,
	    "3/10+ files 5.0MB/10MB+  50% 1.0MB/s counting... name");
	/* All bytes there but not the final line: 99%, never 100%. */
	t.counting = 0;
	t.bytes_done = t.bytes_total;
	total_format(line, sizeof(line), 80, &t, 1024.0 * 1024, 5, 0);
	assert_non_null(strstr(line, " 99% "));
	t.files_done = 10;
	total_format(line, sizeof(line), 80, &t, 1024.0 * 1024, 65, 1);
	assert_string_equal(line,
	    "10/10 files 10MB/10MB 100% 1.0MB/s 01:05 ");
	/* Cut to cols - 1 columns. */
	total_format(line, sizeof(line), 20, &t, 1, 5, 0);
	assert_int_equal(strlen(line), 19);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_plain),
		cmocka_unit_test(test_json_utf8),
		cmocka_unit_test(test_json_bytes),
		cmocka_unit_test(test_json_unescape_bad),
		cmocka_unit_test(test_total_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
