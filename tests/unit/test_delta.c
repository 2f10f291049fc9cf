/*
 * Unit tests for src/delta: signature -> delta -> patch round trips are
 * byte-identical (identical files, a 1% change of a 4 MiB file with the
 * delta's size bounded, empty base, empty new file, a delta fed a byte
 * at a time), the block length rule and the signature's announced
 * length.  The hostile inputs are in test_delta_hostile.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "delta/delta.h"
#include "util/buf.h"
#include "util/err.h"

#include "delta_helpers.h"

/*
 * Signs `base`, deltas `new` against it, patches `base` with that and
 * checks the result is `new`.  The delta's length goes to *dlen.
 */
static void
round_trip(const uint8_t *base, size_t blen, const uint8_t *nw, size_t nlen,
    size_t *dlen)
{
	int bfd = dh_memfile(base, blen), nfd = dh_memfile(nw, nlen);
	int ofd = dh_memfile(NULL, 0);
	struct buf *sig = buf_new(DELTA_SIG_MAX), *delta = buf_new(SIZE_MAX);
	struct delta_sig *s = NULL;
	uint64_t written = 0;
	size_t want;

	assert_non_null(sig);
	assert_non_null(delta);
	assert_int_equal(delta_sig_make(bfd, sig), 0);
	assert_int_equal(delta_sig_len(blen, &want), 0);
	assert_int_equal(buf_len(sig), want);
	assert_int_equal(delta_sig_load(buf_ptr(sig), buf_len(sig), &s), 0);
	assert_int_equal(delta_sig_blocks(s), (blen + delta_sig_block_len(s) -
	    1) / delta_sig_block_len(s));
	assert_int_equal(delta_make_buf(s, nfd, delta), 0);
	assert_int_equal(delta_patch_buf(bfd, ofd, nlen, buf_ptr(delta),
	    buf_len(delta), &written), 0);
	assert_int_equal(written, nlen);
	dh_check_content(ofd, nw, nlen);
	*dlen = buf_len(delta);
	delta_sig_free(s);
	buf_free(sig);
	buf_free(delta);
	close(bfd);
	close(nfd);
	close(ofd);
}

static void
test_delta_identical(void **state)
{
	size_t n = 1 << 20, dlen;
	uint8_t *a = dh_random(n, 1);

	(void)state;
	round_trip(a, n, a, n, &dlen);
	/* 1 MiB in blocks of 1 KiB: all copies, merged into one. */
	assert_true(dlen < 64);
	free(a);
}

static void
test_delta_one_percent(void **state)
{
	size_t n = 4 << 20, dlen, i, changed = 0;
	uint8_t *a = dh_random(n, 2), *b = malloc(n + 1000);
	uint8_t *noise = dh_random(4096, 3);

	(void)state;
	assert_non_null(b);
	memcpy(b, a, n);
	/* Ten 4 KiB regions rewritten: 40 KiB, about 1%. */
	for (i = 0; i < 10; i++) {
		memcpy(b + 300000 + i * 400000, noise, 4096);
		changed += 4096;
	}
	round_trip(a, n, b, n, &dlen);
	printf("# 4 MiB, %zu bytes changed in 10 places: delta %zu bytes\n",
	    changed, dlen);
	/* Each changed place costs at most its bytes and two blocks. */
	assert_true(dlen < changed + 10 * 2 * 2048 + 1024);
	assert_true(dlen < n / 40);
	/* The same with 1000 bytes inserted near the start: the rolling
	 * sum finds every block after it again. */
	memmove(b + 1000 + 1000, b + 1000, n - 1000);
	memcpy(b + 1000, noise, 1000);
	round_trip(a, n, b, n + 1000, &dlen);
	printf("# and 1000 bytes inserted: delta %zu bytes\n", dlen);
	assert_true(dlen < changed + 1000 + 11 * 2 * 2048 + 1024);
	free(a);
	free(b);
	free(noise);
}

static void
test_delta_empty(void **state)
{
	size_t n = 100000, dlen;
	uint8_t *a = dh_random(n, 4);

	(void)state;
	/* Empty base: a signature of its header alone, all literals. */
	round_trip(NULL, 0, a, n, &dlen);
	assert_true(dlen >= n && dlen < n + 64);
	/* Empty new file: a header and an end command. */
	round_trip(a, n, NULL, 0, &dlen);
	assert_true(dlen <= 8);
	round_trip(NULL, 0, NULL, 0, &dlen);
	/* Smaller than one block, both ways. */
	round_trip(a, 10, a + 5, 7, &dlen);
	round_trip(a, 300, a, 301, &dlen);
	free(a);
}

/* The delta is the same whether it arrives whole or a byte at a time. */
static void
test_delta_patch_bytewise(void **state)
{
	size_t n = 20000, i;
	uint8_t *a = dh_random(n, 5), *b = malloc(n);
	int bfd, ofd;
	struct buf *delta;
	struct delta_patch *pp;
	uint64_t written = 0;

	(void)state;
	assert_non_null(b);
	memcpy(b, a, n);
	memset(b + 7000, 'x', 300);
	bfd = dh_memfile(a, n);
	delta = dh_delta(a, n, b, n);
	ofd = dh_memfile(NULL, 0);
	assert_int_equal(delta_patch_begin(bfd, ofd, n, &pp), 0);
	for (i = 0; i < buf_len(delta); i++) {
		assert_int_equal(delta_patch_feed(pp, buf_ptr(delta) + i, 1),
		    0);
	}
	assert_int_equal(delta_patch_feed(pp, "", 0), 0);
	assert_int_equal(delta_patch_finish(pp, &written), 0);
	assert_int_equal(written, n);
	delta_patch_free(pp);
	dh_check_content(ofd, b, n);
	buf_free(delta);
	close(bfd);
	close(ofd);
	free(a);
	free(b);
}

struct emit_log {
	size_t calls;
	size_t ticks;	/* calls for a turn that made nothing */
	size_t total;
	size_t biggest;
	int fail_at;	/* call number that fails, 0 none */
};

static int
emit_count(void *arg, const uint8_t *p, size_t n)
{
	struct emit_log *e = arg;

	assert_true((p == NULL) == (n == 0));
	e->calls++;
	if (n == 0) {
		e->ticks++;
	}
	e->total += n;
	if (n > e->biggest) {
		e->biggest = n;
	}
	if (e->fail_at != 0 && (int)e->calls == e->fail_at) {
		return SCP_E_CLOSED;
	}
	return 0;
}

/*
 * Streamed: pieces of at most 64 KiB, a call after every turn of
 * librsync even when it made nothing, and the callback can stop it.
 */
static void
test_delta_streamed(void **state)
{
	size_t n = 3 << 20;
	uint8_t *a = dh_random(n, 6), *b = dh_random(n, 7);
	struct delta_sig *s = dh_sig_of(a, n);
	struct emit_log e = { 0, 0, 0, 0, 0 };
	int fd = dh_memfile(b, n), afd = dh_memfile(a, n);

	(void)state;
	/* All one copy: the turns before its end make nothing. */
	assert_int_equal(delta_make(s, afd, emit_count, &e), 0);
	assert_true(e.ticks >= n / (64 * 1024) - 1);
	assert_true(e.total < 64);
	memset(&e, 0, sizeof(e));
	/* Nothing in common: a literal copy of the whole new file. */
	assert_int_equal(delta_make(s, fd, emit_count, &e), 0);
	assert_true(e.calls >= n / (64 * 1024));
	assert_true(e.biggest <= 64 * 1024);
	assert_true(e.total >= n && e.total < n + n / 1000);
	memset(&e, 0, sizeof(e));
	e.fail_at = 3;
	assert_int_equal(delta_make(s, fd, emit_count, &e), SCP_E_CLOSED);
	assert_int_equal(e.calls, 3);
	/* A cap on the buffer form. */
	{
		struct buf *small = buf_new(1000);

		assert_non_null(small);
		assert_int_equal(delta_make_buf(s, fd, small), SCP_E_TOOBIG);
		buf_free(small);
	}
	delta_sig_free(s);
	close(fd);
	close(afd);
	free(a);
	free(b);
}

static void
test_delta_block_len(void **state)
{
	static const struct {
		uint64_t size;
		uint32_t block;
	} t[] = {
		{ 0, 256 },
		{ 1, 256 },
		{ 65536, 256 },
		{ 65537, 256 },
		{ 1 << 20, 1024 },
		{ 4 << 20, 2048 },
		{ 10000000, 3072 },	/* sqrt 3162, down to 128s */
		{ (uint64_t)1 << 30, 32768 },
		{ (uint64_t)64 << 30, 262144 },
		{ ((uint64_t)64 << 30) + 1, 262272 },	/* the count cap */
		{ (uint64_t)1 << 40, 4 << 20 },
	};
	uint32_t block;
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(delta_block_len(t[i].size, &block), 0);
		assert_int_equal(block, t[i].block);
		assert_true((t[i].size + block - 1) / block <=
		    DELTA_BLOCKS_MAX);
		assert_int_equal(delta_sig_len(t[i].size, &len), 0);
		assert_true(len <= DELTA_SIG_MAX);
	}
	assert_int_equal(delta_block_len(DELTA_FILE_MAX + 1, &block),
	    SCP_E_TOOBIG);
	assert_int_equal(delta_sig_len(DELTA_FILE_MAX + 1, &len),
	    SCP_E_TOOBIG);
	assert_int_equal(delta_sig_len((uint64_t)1 << 30, &len), 0);
	assert_int_equal(len, 12 + 32768 * 20);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delta_identical),
		cmocka_unit_test(test_delta_one_percent),
		cmocka_unit_test(test_delta_empty),
		cmocka_unit_test(test_delta_patch_bytewise),
		cmocka_unit_test(test_delta_streamed),
		cmocka_unit_test(test_delta_block_len),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
