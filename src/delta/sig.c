/*
 * Signatures: choosing the block length, making one of a local base,
 * and loading one a peer sent (hostile: parsed and bounded here before
 * librsync, which trusts the lengths it reads, sees a byte of it).
 */
#include "delta_int.h"

#include <stdlib.h>
#include <sys/stat.h>

#include "../util/buf.h"
#include "../util/err.h"

/* Floor of the square root of v (v < 2^64), by Newton's method. */
static uint64_t
delta_isqrt(uint64_t v)
{
	uint64_t x, y;

	if (v < 2) {
		return v;
	}
	/* 2^32 - 1 is at least the root, and x + v / x cannot overflow. */
	x = v < UINT32_MAX ? v : UINT32_MAX;
	for (;;) {
		y = (x + v / x) / 2;
		if (y >= x) {
			return x;
		}
		x = y;
	}
}

int
delta_block_len(uint64_t size, uint32_t *block_len)
{
	uint64_t len, need;

	if (size > DELTA_FILE_MAX) {
		return SCP_E_TOOBIG;
	}
	/*
	 * librsync 2.3's rs_sig_args: sqrt(size) balances the
	 * signature (size / len sums) against the delta (each changed
	 * spot costs about one block of literal bytes); 128 is BLAKE2's
	 * block, so strong sums waste no compression.
	 */
	len = size <= 256 * 256 ? 256 : delta_isqrt(size) & ~(uint64_t)127;
	/* Past 64 GiB, fewer and longer blocks keep the count bounded. */
	need = (size + DELTA_BLOCKS_MAX - 1) / DELTA_BLOCKS_MAX;
	if (len < need) {
		len = (need + 127) & ~(uint64_t)127;
	}
	*block_len = (uint32_t)len;
	return 0;
}

int
delta_sig_len(uint64_t size, size_t *len)
{
	uint32_t block;
	int r;

	if ((r = delta_block_len(size, &block)) != 0) {
		return r;
	}
	*len = DELTA_SIG_HEADER + (size_t)((size + block - 1) / block) *
	    (4 + DELTA_STRONG_LEN);
	return 0;
}

struct sig_out {
	struct buf *b;
	size_t made;
};

static int
sig_emit(void *arg, const uint8_t *p, size_t n)
{
	struct sig_out *so = arg;

	if (n == 0) {
		return 0;
	}
	/* A base that grows while it is read is still bounded. */
	if (n > DELTA_SIG_MAX - so->made) {
		return SCP_E_TOOBIG;
	}
	so->made += n;
	return buf_put(so->b, p, n);
}

int
delta_sig_make(int fd, struct buf *out)
{
	struct sig_out so = { out, 0 };
	struct stat st;
	rs_job_t *job = NULL;
	uint32_t block;
	int r;

	delta_rs_init();
	if (fstat(fd, &st) != 0) {
		r = SCP_E_SYS;
		goto out;
	}
	if ((r = delta_block_len(st.st_size < 0 ? 0 : (uint64_t)st.st_size,
	    &block)) != 0) {
		goto out;
	}
	job = rs_sig_begin(block, DELTA_STRONG_LEN, RS_RK_BLAKE2_SIG_MAGIC);
	if (job == NULL) {
		r = SCP_E_NOMEM;
		goto out;
	}
	r = delta_drive(job, fd, DELTA_CHUNK, sig_emit, &so);
out:
	if (job != NULL) {
		rs_job_free(job);
	}
	return r;
}

/*
 * The header and shape of p[0..len): what librsync's loader would take
 * on trust.  The block length and count go to *blockp and *count.
 */
static int
sig_parse(const void *p, size_t len, uint32_t *blockp, uint32_t *count)
{
	struct buf *v = NULL;
	uint32_t magic, block, strong;
	size_t rest;
	int r;

	if (len > DELTA_SIG_MAX) {
		return SCP_E_TOOBIG;
	}
	if ((v = buf_view(p, len)) == NULL) {
		return SCP_E_NOMEM;
	}
	if ((r = buf_get_u32(v, &magic)) != 0 ||
	    (r = buf_get_u32(v, &block)) != 0 ||
	    (r = buf_get_u32(v, &strong)) != 0) {
		r = SCP_E_FORMAT;
		goto out;
	}
	/*
	 * Only what we write: the MD4 kinds are open to collisions and
	 * the old rolling sum clusters badly (librsync's own advice).
	 */
	if (magic != RS_RK_BLAKE2_SIG_MAGIC ||
	    block < DELTA_BLOCK_MIN || block > DELTA_BLOCK_MAX ||
	    strong < DELTA_STRONG_MIN || strong > DELTA_STRONG_MAX) {
		r = SCP_E_FORMAT;
		goto out;
	}
	rest = buf_len(v);
	if (rest % (4 + strong) != 0) {
		r = SCP_E_FORMAT;
		goto out;
	}
	if (rest / (4 + strong) > DELTA_BLOCKS_MAX) {
		r = SCP_E_TOOBIG;
		goto out;
	}
	*blockp = block;
	*count = (uint32_t)(rest / (4 + strong));
	r = delta_sig_check(buf_ptr(v), *count, strong);
out:
	buf_free(v);
	return r;
}

int
delta_sig_load(const void *p, size_t len, struct delta_sig **sigp)
{
	struct delta_sig *sig = NULL;
	rs_signature_t *rs = NULL;
	rs_job_t *job = NULL;
	rs_buffers_t b = { 0 };
	rs_result res;
	uint32_t block = 0, count = 0;
	int r;

	delta_rs_init();
	if ((r = sig_parse(p, len, &block, &count)) != 0) {
		goto out;
	}
	if ((sig = calloc(1, sizeof(*sig))) == NULL) {
		r = SCP_E_NOMEM;
		goto out;
	}
	if ((job = rs_loadsig_begin(&rs)) == NULL) {
		r = SCP_E_NOMEM;
		goto out;
	}
	/* next_in is not const, but librsync never writes through it. */
	b.next_in = (char *)(uintptr_t)p;
	b.avail_in = len;
	b.eof_in = 1;
	res = rs_job_iter(job, &b);
	if (res != RS_DONE) {
		r = res == RS_BLOCKED ? SCP_E_SHORT : delta_rs_err(res);
		goto out;
	}
	if ((res = rs_build_hash_table(rs)) != RS_DONE) {
		r = delta_rs_err(res);
		goto out;
	}
	sig->rs = rs;
	rs = NULL;
	sig->block_len = block;
	sig->blocks = count;
	*sigp = sig;
	sig = NULL;
	r = 0;
out:
	if (job != NULL) {
		rs_job_free(job);
	}
	if (rs != NULL) {
		rs_free_sumset(rs);
	}
	free(sig);
	return r;
}

uint32_t
delta_sig_block_len(const struct delta_sig *sig)
{
	return sig->block_len;
}

uint32_t
delta_sig_blocks(const struct delta_sig *sig)
{
	return sig->blocks;
}

void
delta_sig_free(struct delta_sig *sig)
{
	if (sig == NULL) {
		return;
	}
	rs_free_sumset(sig->rs);
	free(sig);
}
