/*
 * The delta of a new file against a peer's signature, streamed out.
 */
#include "delta_int.h"

#include "../util/buf.h"
#include "../util/err.h"

int
delta_make(struct delta_sig *sig, int fd, delta_emit_fn *emit, void *arg)
{
	rs_job_t *job;
	uint64_t offer;
	int r;

	delta_rs_init();
	/* An empty base has no blocks: every byte becomes a literal. */
	if ((job = rs_delta_begin(sig->rs)) == NULL) {
		return SCP_E_NOMEM;
	}
	/*
	 * Each input byte can cost a strong sum of a block (see delta.h):
	 * small turns keep the ticks coming at the largest blocks.
	 */
	offer = DELTA_TURN_WORK / sig->block_len;
	if (offer < 4096) {
		offer = 4096;
	}
	if (offer > DELTA_CHUNK) {
		offer = DELTA_CHUNK;
	}
	r = delta_drive(job, fd, (size_t)offer, emit, arg);
	rs_job_free(job);
	return r;
}

static int
make_put(void *arg, const uint8_t *p, size_t n)
{
	return n > 0 ? buf_put(arg, p, n) : 0;
}

int
delta_make_buf(struct delta_sig *sig, int fd, struct buf *out)
{
	return delta_make(sig, fd, make_put, out);
}
