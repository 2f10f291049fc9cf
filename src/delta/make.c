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
	int r;

	delta_rs_init();
	/* An empty base has no blocks: every byte becomes a literal. */
	if ((job = rs_delta_begin(sig->rs)) == NULL) {
		return SCP_E_NOMEM;
	}
	r = delta_drive(job, fd, emit, arg);
	rs_job_free(job);
	return r;
}

static int
make_put(void *arg, const uint8_t *p, size_t n)
{
	return buf_put(arg, p, n);
}

int
delta_make_buf(struct delta_sig *sig, int fd, struct buf *out)
{
	return delta_make(sig, fd, make_put, out);
}
