/* Unit tests for src/util: buf, parse, sanitize, strvec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/parse.h"
#include "util/sanitize.h"
#include "util/strvec.h"

static void
test_buf_cap(void **state)
{
	struct buf *b = buf_new(8);
	uint32_t v;

	(void)state;
	assert_non_null(b);
	assert_int_equal(buf_put_u32(b, 0x01020304), 0);
	assert_int_equal(buf_put_u32(b, 5), 0);
	assert_int_equal(buf_put_u8(b, 1), SCP_E_TOOBIG);
	assert_int_equal(buf_get_u32(b, &v), 0);
	assert_int_equal(v, 0x01020304);
	/* Consumed space is reusable: the cap counts unread bytes. */
	assert_int_equal(buf_put_u32(b, 7), 0);
	assert_int_equal(buf_len(b), 8);
	buf_free(b);
}

static void
test_buf_strings(void **state)
{
	static const uint8_t bad_len[] = { 0, 0, 0, 9, 'a', 'b' };
	static const uint8_t nul[] = { 0, 0, 0, 3, 'a', 0, 'b' };
	static const uint8_t ok[] = { 0, 0, 0, 2, 'h', 'i', 0xff };
	struct buf *b;
	char *s = NULL;
	size_t n;
	uint8_t u;

	(void)state;
	b = buf_view(bad_len, sizeof(bad_len));
	assert_int_equal(buf_get_cstring(b, &s, &n, 100), SCP_E_SHORT);
	assert_int_equal(buf_len(b), sizeof(bad_len));
	buf_free(b);

	b = buf_view(nul, sizeof(nul));
	assert_int_equal(buf_get_cstring(b, &s, &n, 100), SCP_E_FORMAT);
	buf_free(b);

	b = buf_view(ok, sizeof(ok));
	assert_int_equal(buf_get_cstring(b, &s, &n, 1), SCP_E_TOOBIG);
	assert_int_equal(buf_get_cstring(b, &s, &n, 2), 0);
	assert_string_equal(s, "hi");
	assert_int_equal(buf_get_u8(b, &u), 0);
	assert_int_equal(u, 0xff);
	assert_int_equal(buf_get_u8(b, &u), SCP_E_SHORT);
	free(s);
	buf_free(b);
}

static void
test_parse_u64(void **state)
{
	static const struct {
		const char *in;
		uint64_t max;
		int rc;
		uint64_t v;
		size_t used;
	} t[] = {
		{ "0", 10, 0, 0, 1 },
		{ "123 x", 1000, 0, 123, 3 },
		{ "", 10, SCP_E_FORMAT, 0, 0 },
		{ "-1", 10, SCP_E_FORMAT, 0, 0 },
		{ "+1", 10, SCP_E_FORMAT, 0, 0 },
		{ "11", 10, SCP_E_RANGE, 0, 0 },
		{ "18446744073709551615", UINT64_MAX, 0, UINT64_MAX, 20 },
		{ "18446744073709551616", UINT64_MAX, SCP_E_RANGE, 0, 0 },
		{ "9223372036854775808", INT64_MAX, SCP_E_RANGE, 0, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const char *p = t[i].in;
		uint64_t v = 42;

		assert_int_equal(parse_u64(&p, t[i].max, &v), t[i].rc);
		if (t[i].rc == 0) {
			assert_true(v == t[i].v);
			assert_int_equal(p - t[i].in, t[i].used);
		} else {
			assert_true(p == t[i].in);
		}
	}
}

static void
test_parse_misc(void **state)
{
	const char *p;
	uint64_t v;
	int port;

	(void)state;
	p = "0644 ";
	assert_int_equal(parse_octal(&p, 4, 1, 07777, &v), 0);
	assert_int_equal(v, 0644);
	assert_int_equal(*p, ' ');
	p = "644 ";
	assert_int_equal(parse_octal(&p, 4, 1, 07777, &v), SCP_E_FORMAT);
	p = "0648";
	assert_int_equal(parse_octal(&p, 4, 1, 07777, &v), SCP_E_FORMAT);
	assert_int_equal(parse_scaled("64K", &v), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(parse_scaled("1m", &v), 0);
	assert_int_equal(v, 1048576);
	assert_int_equal(parse_scaled("1X", &v), SCP_E_FORMAT);
	assert_int_equal(parse_scaled("16E", &v), SCP_E_RANGE);
	assert_int_equal(parse_uint_str("12a", 0, 100, &v), SCP_E_FORMAT);
	assert_int_equal(parse_uint_str("0", 1, 100, &v), SCP_E_RANGE);
	assert_int_equal(parse_port("2202", &port), 0);
	assert_int_equal(port, 2202);
	assert_int_equal(parse_port("65536", &port), SCP_E_RANGE);
	assert_int_equal(parse_port("no-such-service-x", &port),
	    SCP_E_FORMAT);
}

static void
test_sanitize(void **state)
{
	char out[64];
	char *s;

	(void)state;
	sanitize_buf(out, sizeof(out), "a\033[2Jb\r\n", 8);
	assert_string_equal(out, "a\\033[2Jb\\015\\012");
	s = sanitize_dup("plain text\tok");
	assert_string_equal(s, "plain text\tok");
	free(s);
	/* Truncation keeps the string terminated. */
	sanitize_buf(out, 4, "abcdef", 6);
	assert_string_equal(out, "abc");
	s = scp_vis_name("a\nb");
	assert_string_equal(s, "a\\^Jb");
	free(s);
	s = scp_vis_name("M\001\\x\n\201");
	assert_string_equal(s, "M\\^A\\\\x\\^J\\M^A");
	free(s);
	s = scp_vis_name("no newline \\ here");
	assert_string_equal(s, "no newline \\ here");
	free(s);
}

static void
test_strvec(void **state)
{
	struct strvec sv;
	int i;

	(void)state;
	strvec_init(&sv);
	assert_null(sv.v[0]);
	for (i = 0; i < 20; i++) {
		strvec_pushf(&sv, "arg%d", i);
	}
	assert_int_equal(sv.n, 20);
	assert_string_equal(sv.v[19], "arg19");
	assert_null(sv.v[20]);
	strvec_clear(&sv);
	assert_int_equal(sv.n, 0);
	assert_null(sv.v[0]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_cap),
		cmocka_unit_test(test_buf_strings),
		cmocka_unit_test(test_parse_u64),
		cmocka_unit_test(test_parse_misc),
		cmocka_unit_test(test_sanitize),
		cmocka_unit_test(test_strvec),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
