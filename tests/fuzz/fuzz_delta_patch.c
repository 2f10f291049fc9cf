/*
 * libFuzzer target: a delta a peer sent, applied to a small fixed base
 * (delta_patch_*(), src/delta/delta.h) into a memfd, under an output
 * bound of FZD_OUT_MAX bytes.
 *
 * The first input byte cuts the rest, the delta, into pieces of
 * (byte & 0x3f) + 1 bytes for delta_patch_feed().  Invariants checked:
 *  - every call returns 0 or a negative SCP_E_* code;
 *  - the output never passes the bound, and is exactly as long as the
 *    count reported;
 *  - the delta fed whole (delta_patch_buf()) and fed in pieces gives
 *    the same result, and on success the same bytes: the patch keeps no
 *    state in how its input was cut;
 *  - no leak, hang or crash (ASan, UBSan; librsync's own asserts).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "delta/delta.h"
#include "util/err.h"

#include "fuzz_delta.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int basefd = -1, out1, out2;
static uint8_t got1[FZD_OUT_MAX], got2[FZD_OUT_MAX];

static void
fail(const char *what)
{
	fprintf(stderr, "fuzz_delta_patch: %s\n", what);
	abort();
}

static int
code_ok(int r)
{
	return r <= 0 && r >= SCP_E_SPAWN;
}

/* The output file is the count long, and within the bound; read it. */
static void
check_out(int fd, uint64_t written, uint8_t *got)
{
	if (written > FZD_OUT_MAX ||
	    lseek(fd, 0, SEEK_END) != (off_t)written ||
	    pread(fd, got, FZD_OUT_MAX, 0) != (ssize_t)written) {
		fail("output longer than the bound or the count");
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct delta_patch *pp;
	uint64_t w1 = 0, w2 = 0;
	size_t piece, i, k;
	int r1, r2, r;

	if (basefd == -1) {
		basefd = fzd_memfd(FZD_FIXED);
		out1 = fz_memfd("fuzz_delta_patch.1");
		out2 = fz_memfd("fuzz_delta_patch.2");
	}
	if (size == 0) {
		return 0;
	}
	piece = (size_t)(data[0] & 0x3f) + 1;
	data++;
	size--;

	fz_feed(out1, NULL, 0);
	r1 = delta_patch_buf(basefd, out1, FZD_OUT_MAX, data, size, &w1);
	if (!code_ok(r1)) {
		fail("whole: bad result");
	}
	check_out(out1, w1, got1);

	fz_feed(out2, NULL, 0);
	if (delta_patch_begin(basefd, out2, FZD_OUT_MAX, &pp) != 0) {
		fail("out of memory");
	}
	r2 = 0;
	for (i = 0; i < size && r2 == 0; i += k) {
		k = size - i < piece ? size - i : piece;
		r2 = delta_patch_feed(pp, data + i, k);
		if (!code_ok(r2)) {
			fail("feed: bad result");
		}
	}
	r = delta_patch_finish(pp, &w2);
	if (!code_ok(r) || (r2 != 0 && r != r2)) {
		fail("finish: bad result");
	}
	delta_patch_free(pp);
	check_out(out2, w2, got2);

	if (r != r1) {
		fprintf(stderr, "whole %d, in pieces of %zu %d\n", r1, piece,
		    r);
		fail("the cut of the input changed the result");
	}
	if (r == 0 && (w1 != w2 || memcmp(got1, got2, (size_t)w1) != 0)) {
		fail("the cut of the input changed the output");
	}
	return 0;
}
