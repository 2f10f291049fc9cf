/*
 * Unit tests for src/delta against a hostile peer: signatures that are
 * truncated, garbage, out of bounds or built to flood librsync's lookup
 * table are refused; deltas that are garbage, truncated, followed by
 * bytes, copying what the base does not have, or growing past the
 * caller's output bound fail without writing past it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "delta/delta.h"
#include "util/buf.h"
#include "util/err.h"

#include "delta_helpers.h"

#define MAGIC_SIG	0x72730147u	/* "rs\x01G": RabinKarp + BLAKE2 */
#define MAGIC_MD4	0x72730136u
#define MAGIC_DELTA	"rs\x02\x36"

/* A signature header, then `count` blocks with weak sums from `weak`
 * (NULL: 0, 1, 2 ...) and strong sums that all differ. */
static struct buf *
sig_build(uint32_t magic, uint32_t block, uint32_t strong, uint32_t count,
    const uint32_t *weak)
{
	struct buf *b = buf_new(SIZE_MAX);
	uint8_t s[64];
	uint32_t i;

	assert_non_null(b);
	assert_int_equal(buf_put_u32(b, magic), 0);
	assert_int_equal(buf_put_u32(b, block), 0);
	assert_int_equal(buf_put_u32(b, strong), 0);
	memset(s, 0, sizeof(s));
	for (i = 0; i < count; i++) {
		assert_int_equal(buf_put_u32(b, weak != NULL ? weak[i] : i),
		    0);
		memcpy(s, &i, sizeof(i));
		assert_int_equal(buf_put(b, s, strong), 0);
	}
	return b;
}

static int
load(const struct buf *b, size_t len)
{
	struct delta_sig *s = NULL;
	int r = delta_sig_load(buf_ptr(b), len, &s);

	if (r == 0) {
		assert_non_null(s);
		delta_sig_free(s);
	} else {
		assert_null(s);
	}
	return r;
}

static void
test_sig_truncated(void **state)
{
	size_t n = 50000, len, cut;
	uint8_t *a = dh_random(n, 11);
	struct buf *sig = dh_sig(a, n), *delta;
	struct delta_sig *s = NULL;
	int bfd, nfd, ofd;

	(void)state;
	len = buf_len(sig);
	assert_int_equal(load(sig, len), 0);
	/* Every cut inside the header or a block is refused. */
	for (cut = 0; cut < len; cut++) {
		if (cut >= 12 && (cut - 12) % 20 == 0) {
			continue;
		}
		assert_int_equal(load(sig, cut), SCP_E_FORMAT);
	}
	/* At a block boundary it is a signature of a shorter base: still
	 * a right delta, only a bigger one. */
	assert_int_equal(delta_sig_load(buf_ptr(sig), 12 + 20 * 10, &s), 0);
	assert_int_equal(delta_sig_blocks(s), 10);
	nfd = dh_memfile(a, n);
	delta = buf_new(SIZE_MAX);
	assert_int_equal(delta_make_buf(s, nfd, delta), 0);
	bfd = dh_memfile(a, n);
	ofd = dh_memfile(NULL, 0);
	assert_int_equal(delta_patch_buf(bfd, ofd, n, buf_ptr(delta),
	    buf_len(delta), NULL), 0);
	dh_check_content(ofd, a, n);
	close(bfd);
	close(nfd);
	close(ofd);
	delta_sig_free(s);
	buf_free(delta);
	buf_free(sig);
	free(a);
}

static void
test_sig_garbage(void **state)
{
	uint8_t *junk = dh_random(100000, 12);
	struct buf *b;
	struct delta_sig *s = NULL;
	size_t n;

	(void)state;
	for (n = 0; n < 100000; n = n * 3 + 1) {
		assert_int_equal(delta_sig_load(junk, n, &s), SCP_E_FORMAT);
	}
	/*
	 * Garbage after a good header: whole blocks of it are sums of
	 * some other file (nothing will match them), anything else is
	 * refused.
	 */
	b = sig_build(MAGIC_SIG, 2048, 16, 0, NULL);
	assert_int_equal(buf_put(b, junk, 1000), 0);
	assert_int_equal(load(b, buf_len(b)), 0);
	assert_int_equal(buf_put(b, junk, 1), 0);
	assert_int_equal(load(b, buf_len(b)), SCP_E_FORMAT);
	buf_free(b);
	/* Headers out of bounds, each otherwise well formed. */
	b = sig_build(MAGIC_MD4, 2048, 16, 4, NULL);
	assert_int_equal(load(b, buf_len(b)), SCP_E_FORMAT);
	buf_free(b);
	b = sig_build(MAGIC_SIG, 0, 16, 4, NULL);
	assert_int_equal(load(b, buf_len(b)), SCP_E_FORMAT);
	buf_free(b);
	b = sig_build(MAGIC_SIG, DELTA_BLOCK_MIN - 1, 16, 4, NULL);
	assert_int_equal(load(b, buf_len(b)), SCP_E_FORMAT);
	buf_free(b);
	b = sig_build(MAGIC_SIG, DELTA_BLOCK_MAX + 1, 16, 4, NULL);
	assert_int_equal(load(b, buf_len(b)), SCP_E_FORMAT);
	buf_free(b);
	b = sig_build(MAGIC_SIG, 0x80000000u, 16, 4, NULL);
	assert_int_equal(load(b, buf_len(b)), SCP_E_FORMAT);
	buf_free(b);
	b = sig_build(MAGIC_SIG, 2048, 0, 4, NULL);
	assert_int_equal(load(b, buf_len(b)), SCP_E_FORMAT);
	buf_free(b);
	b = sig_build(MAGIC_SIG, 2048, 33, 4, NULL);
	assert_int_equal(load(b, buf_len(b)), SCP_E_FORMAT);
	buf_free(b);
	/* The bounds themselves are fine. */
	b = sig_build(MAGIC_SIG, DELTA_BLOCK_MAX, DELTA_STRONG_MAX, 4, NULL);
	assert_int_equal(load(b, buf_len(b)), 0);
	buf_free(b);
	b = sig_build(MAGIC_SIG, DELTA_BLOCK_MIN, DELTA_STRONG_MIN, 4, NULL);
	assert_int_equal(load(b, buf_len(b)), 0);
	buf_free(b);
	free(junk);
}

static void
test_sig_too_big(void **state)
{
	uint32_t *weak;
	struct buf *b;

	(void)state;
	/* The most blocks, with the shortest strong sums (and rolling
	 * sums spread as real ones are: see test_sig_flood). */
	weak = (uint32_t *)dh_random(4 * (size_t)DELTA_BLOCKS_MAX, 20);
	b = sig_build(MAGIC_SIG, 256, DELTA_STRONG_MIN, DELTA_BLOCKS_MAX,
	    weak);
	assert_int_equal(load(b, buf_len(b)), 0);
	buf_free(b);
	free(weak);
	b = sig_build(MAGIC_SIG, 256, DELTA_STRONG_MIN, DELTA_BLOCKS_MAX + 1,
	    NULL);
	assert_int_equal(load(b, buf_len(b)), SCP_E_TOOBIG);
	buf_free(b);
	/* Longer than any signature may be, without reading it. */
	assert_int_equal(delta_sig_load("", DELTA_SIG_MAX + 1,
	    &(struct delta_sig *){ NULL }), SCP_E_TOOBIG);
}

static void
test_sig_flood(void **state)
{
	uint32_t *weak = calloc(DELTA_BLOCKS_MAX, sizeof(*weak));
	uint32_t i, n;
	struct buf *b;

	(void)state;
	assert_non_null(weak);
	/* A thousand blocks with one rolling sum: one long chain. */
	for (i = 0; i < 1000; i++) {
		weak[i] = 0x12345678;
	}
	b = sig_build(MAGIC_SIG, 1024, 16, 1000, weak);
	assert_int_equal(load(b, buf_len(b)), SCP_E_UNSAFE);
	buf_free(b);
	/* As many as the bound allows are fine (equal blocks count once,
	 * so these differ in their strong sums). */
	b = sig_build(MAGIC_SIG, 1024, 16, 200, weak);
	assert_int_equal(load(b, buf_len(b)), 0);
	buf_free(b);
	/*
	 * Different sums, each stored in its own slot, laid along the
	 * probe path of slot 0 (offsets 0, 1, 3, 6 ...): no insertion
	 * probes at all, but a lookup of any sum starting there walks
	 * them all.  2000 blocks: a table of 4096 slots.
	 */
	n = 2000;
	for (i = 0; i < n; i++) {
		weak[i] = 4096u * (i + 1) + (uint32_t)((uint64_t)i * (i + 1) /
		    2 % 4096);
	}
	b = sig_build(MAGIC_SIG, 1024, 16, n, weak);
	assert_int_equal(load(b, buf_len(b)), SCP_E_UNSAFE);
	buf_free(b);
	/* Spread like the sums of real data, the most blocks pass. */
	{
		uint8_t *r = dh_random(4 * (size_t)DELTA_BLOCKS_MAX, 19);

		memcpy(weak, r, 4 * (size_t)DELTA_BLOCKS_MAX);
		free(r);
	}
	b = sig_build(MAGIC_SIG, 256, 16, DELTA_BLOCKS_MAX, weak);
	assert_int_equal(load(b, buf_len(b)), 0);
	buf_free(b);
	free(weak);
}

/* Applies d[0..n) to base[0..blen) with bound `max`. */
static int
patch(const void *base, size_t blen, const void *d, size_t n, uint64_t max,
    uint64_t *written)
{
	int bfd = dh_memfile(base, blen), ofd = dh_memfile(NULL, 0);
	int r = delta_patch_buf(bfd, ofd, max, d, n, written);
	off_t size = lseek(ofd, 0, SEEK_END);

	/* Never more on disk than the bound, nor than it says. */
	assert_true((uint64_t)size <= max);
	assert_int_equal((uint64_t)size, *written);
	close(bfd);
	close(ofd);
	return r;
}

static void
test_patch_garbage(void **state)
{
	uint8_t *base = dh_random(10000, 13), *junk = dh_random(5000, 14);
	uint8_t d[64];
	uint64_t w;
	size_t n;

	(void)state;
	for (n = 0; n < 5000; n = n * 2 + 1) {
		assert_int_not_equal(patch(base, 10000, junk, n, 20000, &w), 0);
	}
	assert_int_equal(patch(base, 10000, "", 0, 100, &w), SCP_E_SHORT);
	assert_int_equal(patch(base, 10000, "rs\x01\x36\x00", 5, 100, &w),
	    SCP_E_FORMAT);
	/* Garbage after a good magic: 0x55..0xff are no commands. */
	memcpy(d, MAGIC_DELTA "\x55", 5);
	assert_int_equal(patch(base, 10000, d, 5, 100, &w), SCP_E_FORMAT);
	memcpy(d, MAGIC_DELTA "\xff", 5);
	assert_int_equal(patch(base, 10000, d, 5, 100, &w), SCP_E_FORMAT);
	/* A good delta: literal "abc", copy 10 bytes from 5, end. */
	memcpy(d, MAGIC_DELTA "\x03" "abc" "\x45\x05\x0a" "\x00", 12);
	assert_int_equal(patch(base, 10000, d, 12, 100, &w), 0);
	assert_int_equal(w, 13);
	/* Truncated anywhere before its end command. */
	for (n = 0; n < 11; n++) {
		assert_int_equal(patch(base, 10000, d, n, 100, &w),
		    SCP_E_SHORT);
	}
	/* Bytes after the end command. */
	memcpy(d + 12, "x", 1);
	assert_int_equal(patch(base, 10000, d, 13, 100, &w), SCP_E_FORMAT);
	free(base);
	free(junk);
}

static void
test_patch_bad_copies(void **state)
{
	uint8_t *base = dh_random(1000, 15);
	uint64_t w;

	(void)state;
	/* Past the end of the base, from inside it and from beyond. */
	assert_int_equal(patch(base, 1000, MAGIC_DELTA
	    "\x4a\x03\xe0\x00\x20" "\x00", 10, 5000, &w), SCP_E_FORMAT);
	/* What the failing turn made is not written either. */
	assert_int_equal(w, 0);
	assert_int_equal(patch(base, 1000, MAGIC_DELTA
	    "\x49\x03\xe8\x01" "\x00", 9, 5000, &w), SCP_E_FORMAT);
	assert_int_equal(patch(base, 1000, MAGIC_DELTA
	    "\x51\x7f\xff\xff\xff\xff\xff\xff\xff\x01" "\x00", 15, 5000, &w),
	    SCP_E_FORMAT);
	/* Negative and zero lengths and offsets (8-byte fields). */
	assert_int_equal(patch(base, 1000, MAGIC_DELTA
	    "\x48\x00\xff\xff\xff\xff\xff\xff\xff\xff" "\x00", 15, 5000, &w),
	    SCP_E_FORMAT);
	assert_int_equal(patch(base, 1000, MAGIC_DELTA
	    "\x51\xff\xff\xff\xff\xff\xff\xff\xff\x01" "\x00", 15, 5000, &w),
	    SCP_E_FORMAT);
	assert_int_equal(patch(base, 1000, MAGIC_DELTA "\x45\x00\x00" "\x00",
	    8, 5000, &w), SCP_E_FORMAT);
	assert_int_equal(patch(base, 1000, MAGIC_DELTA
	    "\x44\xff\xff\xff\xff\xff\xff\xff\xff" "\x00", 14, 5000, &w),
	    SCP_E_FORMAT);
	/* A huge literal is only as long as what follows it. */
	assert_int_equal(patch(base, 1000, MAGIC_DELTA
	    "\x44\x00\x00\x00\x10\x00\x00\x00\x00" "ab", 15, 5000, &w),
	    SCP_E_SHORT);
	assert_int_equal(w, 2);
	/* Nothing at all to copy from. */
	assert_int_equal(patch(NULL, 0, MAGIC_DELTA "\x45\x00\x01" "\x00",
	    8, 5000, &w), SCP_E_FORMAT);
	free(base);
}

static void
test_patch_bound(void **state)
{
	size_t n = 200000, i;
	uint8_t *a = dh_random(n, 16), *b = dh_random(n, 17);
	struct buf *delta = dh_delta(a, n, b, n), *amp;
	uint64_t w;

	(void)state;
	assert_int_equal(patch(a, n, buf_ptr(delta), buf_len(delta), n, &w),
	    0);
	assert_int_equal(w, n);
	assert_int_equal(patch(a, n, buf_ptr(delta), buf_len(delta), n - 1,
	    &w), SCP_E_TOOBIG);
	assert_true(w < n);
	assert_int_equal(patch(a, n, buf_ptr(delta), buf_len(delta), 0, &w),
	    SCP_E_TOOBIG);
	assert_int_equal(w, 0);
	/* 9 bytes a copy of the whole base, 5000 times: 1 GB from 45 KB. */
	amp = buf_new(SIZE_MAX);
	assert_non_null(amp);
	assert_int_equal(buf_put(amp, MAGIC_DELTA, 4), 0);
	for (i = 0; i < 5000; i++) {
		assert_int_equal(buf_put(amp,
		    "\x4f\x00\x00\x00\x00\x00\x03\x0d\x40", 9), 0);
	}
	assert_int_equal(buf_put_u8(amp, 0), 0);
	assert_int_equal(patch(a, n, buf_ptr(amp), buf_len(amp), 3 * n, &w),
	    SCP_E_TOOBIG);
	assert_true(w <= 3 * n);
	buf_free(amp);
	buf_free(delta);
	free(a);
	free(b);
}

/* A delta after an error is refused; finish reports the count. */
static void
test_patch_sticky(void **state)
{
	uint8_t *base = dh_random(100, 18);
	struct delta_patch *pp;
	int bfd = dh_memfile(base, 100), ofd = dh_memfile(NULL, 0);
	uint64_t w = 99;

	(void)state;
	assert_int_equal(delta_patch_begin(bfd, ofd, 1000, &pp), 0);
	assert_int_equal(delta_patch_feed(pp, MAGIC_DELTA "\x02" "ab\x55",
	    8), SCP_E_FORMAT);
	assert_int_equal(delta_patch_feed(pp, "\x00", 1), SCP_E_FORMAT);
	assert_int_equal(delta_patch_finish(pp, &w), SCP_E_FORMAT);
	assert_int_equal(w, 0);
	delta_patch_free(pp);
	delta_patch_free(NULL);
	delta_sig_free(NULL);
	close(bfd);
	close(ofd);
	free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sig_truncated),
		cmocka_unit_test(test_sig_garbage),
		cmocka_unit_test(test_sig_too_big),
		cmocka_unit_test(test_sig_flood),
		cmocka_unit_test(test_patch_garbage),
		cmocka_unit_test(test_patch_bad_copies),
		cmocka_unit_test(test_patch_bound),
		cmocka_unit_test(test_patch_sticky),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
