/*
 * Unit tests for the SFTP attribute and STATUS decoders (PROTOCOL.md
 * section 4): ATTRS round trips, extended pairs skipped, and random
 * bytes that never crash either decoder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "proto/sftp/wire.h"
#include "util/buf.h"
#include "util/log.h"

static void
test_attr_roundtrip(void **state)
{
	struct sftp_attr a, d;
	struct buf *b = buf_new(4096);
	uint32_t flags;

	(void)state;
	for (flags = 0; flags < 16; flags++) {
		memset(&a, 0, sizeof(a));
		a.flags = flags;
		a.size = 0x0102030405060708ULL;
		a.uid = 1;
		a.gid = 2;
		a.perm = 0100644;
		a.atime = 3;
		a.mtime = 4;
		assert_int_equal(sftp_attr_encode(b, &a), 0);
		assert_int_equal(sftp_attr_decode(b, &d), 0);
		assert_int_equal(buf_len(b), 0);
		assert_int_equal(d.flags, flags);
		if (flags & SSH2_FILEXFER_ATTR_SIZE) {
			assert_true(d.size == a.size);
		}
		if (flags & SSH2_FILEXFER_ATTR_PERMISSIONS) {
			assert_int_equal(d.perm, a.perm);
			assert_true(sftp_attr_is_reg(&d));
		} else {
			assert_false(sftp_attr_is_reg(&d));
		}
		if (flags & SSH2_FILEXFER_ATTR_ACMODTIME) {
			assert_int_equal(d.mtime, 4);
		}
	}
	/* Extended pairs are skipped. */
	buf_put_u32(b, SSH2_FILEXFER_ATTR_EXTENDED);
	buf_put_u32(b, 2);
	buf_put_cstring(b, "a@x");
	buf_put_cstring(b, "1");
	buf_put_cstring(b, "b@x");
	buf_put_cstring(b, "");
	assert_int_equal(sftp_attr_decode(b, &d), 0);
	assert_int_equal(buf_len(b), 0);
	buf_reset(b);
	buf_put_u32(b, SSH2_FILEXFER_ATTR_EXTENDED);
	buf_put_u32(b, 2);
	buf_put_cstring(b, "a@x");
	assert_true(sftp_attr_decode(b, &d) < 0);
	buf_free(b);
}

/* Random bytes never crash the decoders (a poor man's fuzzer). */
static void
test_decode_random(void **state)
{
	struct sftp_attr a;
	struct buf *b;
	uint8_t data[64];
	uint32_t x = 1, code;
	char *msg;
	int i, j;

	(void)state;
	for (i = 0; i < 20000; i++) {
		for (j = 0; j < (int)sizeof(data); j++) {
			x = x * 1664525 + 1013904223;
			data[j] = (uint8_t)(x >> 24);
		}
		/* Small lengths and flags are the interesting ones. */
		data[0] = data[1] = data[2] = 0;
		data[4] &= 0x80;
		b = buf_view(data, (size_t)(x % sizeof(data)));
		(void)sftp_attr_decode(b, &a);
		buf_free(b);
		b = buf_view(data + 1, (size_t)(x % (sizeof(data) - 1)));
		if (sftp_parse_status(b, &code, &msg) == 0) {
			free(msg);
		}
		buf_free(b);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_attr_roundtrip),
		cmocka_unit_test(test_decode_random),
	};

	signal(SIGPIPE, SIG_IGN);
	log_init("scp", LOG_QUIET, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
