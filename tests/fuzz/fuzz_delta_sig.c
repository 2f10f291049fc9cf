/*
 * libFuzzer target: a signature a peer sent, loaded
 * (delta_sig_load(), src/delta/delta.h), and when it loads, the delta
 * of a small fixed file against it (delta_make()), itself applied.
 *
 * The input is the signature, whole.  Invariants checked:
 *  - loading returns 0 with a signature, or a negative SCP_E_* code
 *    with none; one that loads has whole blocks of a length in bounds;
 *  - a loaded signature always gives a delta of the fixed file;
 *  - that delta, applied to the fixed file as a base, ends cleanly or
 *    with an error code (its copies name the signer's base, not ours);
 *    when the input is the fixed file's own signature, the result is
 *    the fixed file exactly;
 *  - no leak, hang or crash (ASan, UBSan; librsync's own asserts).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "delta/delta.h"
#include "util/buf.h"
#include "util/err.h"

#include "fuzz_delta.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int newfd = -1, outfd;
static uint8_t fixed[FZD_MAX];
static size_t fixed_len;
static struct buf *own_sig;

static void
fail(const char *what)
{
	fprintf(stderr, "fuzz_delta_sig: %s\n", what);
	abort();
}

static void
setup(void)
{
	newfd = fzd_memfd(FZD_FIXED);
	fixed_len = fzd_content(FZD_FIXED, fixed);
	outfd = fz_memfd("fuzz_delta_sig.out");
	if ((own_sig = buf_new(DELTA_SIG_MAX)) == NULL ||
	    delta_sig_make(newfd, own_sig) != 0) {
		fail("cannot sign the fixed file");
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct delta_sig *sig = NULL;
	struct buf *delta;
	uint8_t back[FZD_MAX];
	uint64_t written = 0;
	int r, own;

	if (newfd == -1) {
		setup();
	}
	r = delta_sig_load(data, size, &sig);
	if (r > 0 || r < SCP_E_SPAWN || (r == 0) != (sig != NULL)) {
		fail("load: bad result");
	}
	if (r != 0) {
		return 0;
	}
	if (delta_sig_block_len(sig) < DELTA_BLOCK_MIN ||
	    delta_sig_block_len(sig) > DELTA_BLOCK_MAX ||
	    delta_sig_blocks(sig) > DELTA_BLOCKS_MAX) {
		fail("loaded a signature out of bounds");
	}
	/* At most the file as literals and a command per block. */
	if ((delta = buf_new(1 << 20)) == NULL) {
		fail("out of memory");
	}
	if (delta_make_buf(sig, newfd, delta) != 0) {
		fail("no delta against a loaded signature");
	}
	fz_feed(outfd, NULL, 0);
	r = delta_patch_buf(newfd, outfd, FZD_OUT_MAX, buf_ptr(delta),
	    buf_len(delta), &written);
	if (r > 0 || r < SCP_E_SPAWN || written > FZD_OUT_MAX ||
	    lseek(outfd, 0, SEEK_END) != (off_t)written) {
		fail("patch: bad result");
	}
	own = size == buf_len(own_sig) &&
	    memcmp(data, buf_ptr(own_sig), size) == 0;
	if (own && (r != 0 || written != fixed_len ||
	    pread(outfd, back, sizeof(back), 0) != (ssize_t)fixed_len ||
	    memcmp(back, fixed, fixed_len) != 0)) {
		fail("own signature: the delta does not rebuild the file");
	}
	buf_free(delta);
	delta_sig_free(sig);
	return 0;
}
