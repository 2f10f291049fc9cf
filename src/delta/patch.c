/*
 * Applying a peer's delta to a local base.  The delta is hostile: its
 * copies name offsets and lengths of the base, so the base is read only
 * through the bounds check below, and its output is held to the
 * caller's limit, so a few bytes of delta (a copy of the whole base,
 * repeated) cannot fill the disk.
 */
#include "delta_int.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "../util/err.h"

struct delta_patch {
	rs_job_t *job;
	int basefd;
	int outfd;
	uint64_t out_max;
	uint64_t written;
	int cb_err;	/* what the copy callback met, for the job's error */
	int err;	/* sticky: the first failure */
	int done;	/* the end command was applied */
	char *obuf;
};

/*
 * librsync's copy callback: up to *len bytes of the base at `pos` into
 * *buf (the job's output space).  Returning fewer bytes is fine, none
 * is not (the job would ask again forever): a copy past the base's end
 * is the delta's fault.
 */
static rs_result
patch_copy(void *arg, rs_long_t pos, size_t *len, void **buf)
{
	struct delta_patch *pp = arg;
	ssize_t n;

	if (pos < 0 || (uint64_t)pos > (uint64_t)INT64_MAX - *len) {
		pp->cb_err = SCP_E_FORMAT;
		return RS_CORRUPT;
	}
	do {
		n = pread(pp->basefd, *buf, *len, (off_t)pos);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		pp->cb_err = SCP_E_SYS;
		return RS_IO_ERROR;
	}
	if (n == 0) {
		pp->cb_err = SCP_E_FORMAT;
		return RS_CORRUPT;
	}
	*len = (size_t)n;
	return RS_DONE;
}

static int
patch_write(struct delta_patch *pp, const char *p, size_t n)
{
	ssize_t k;

	while (n > 0) {
		k = write(pp->outfd, p, n);
		if (k < 0 && errno == EINTR) {
			continue;
		}
		if (k <= 0) {
			if (k == 0) {
				errno = EIO;
			}
			return SCP_E_SYS;
		}
		p += k;
		n -= (size_t)k;
		pp->written += (uint64_t)k;
	}
	return 0;
}

int
delta_patch_begin(int basefd, int outfd, uint64_t out_max,
    struct delta_patch **ppp)
{
	struct delta_patch *pp;

	delta_rs_init();
	if ((pp = calloc(1, sizeof(*pp))) == NULL) {
		return SCP_E_NOMEM;
	}
	pp->basefd = basefd;
	pp->outfd = outfd;
	pp->out_max = out_max;
	if ((pp->obuf = malloc(DELTA_CHUNK)) == NULL ||
	    (pp->job = rs_patch_begin(patch_copy, pp)) == NULL) {
		delta_patch_free(pp);
		return SCP_E_NOMEM;
	}
	*ppp = pp;
	return 0;
}

/*
 * Turns the job over b until it wants more input (0), is done, or
 * fails.  The output space offered is one byte more than the limit
 * allows, so passing it is seen without anything past it written.
 */
static int
patch_run(struct delta_patch *pp, rs_buffers_t *b)
{
	rs_result res;
	uint64_t left;
	size_t room, made, before;
	int r;

	for (;;) {
		left = pp->out_max - pp->written;
		room = DELTA_CHUNK;
		if (left < (uint64_t)room) {
			room = (size_t)left + 1;
		}
		b->next_out = pp->obuf;
		b->avail_out = room;
		before = b->avail_in;
		pp->cb_err = 0;
		res = rs_job_iter(pp->job, b);
		if (res != RS_DONE && res != RS_BLOCKED) {
			return pp->cb_err != 0 ? pp->cb_err : delta_rs_err(res);
		}
		made = room - b->avail_out;
		if ((uint64_t)made > left) {
			return SCP_E_TOOBIG;
		}
		if ((r = patch_write(pp, pp->obuf, made)) != 0) {
			return r;
		}
		if (res == RS_DONE) {
			pp->done = 1;
			/* Whatever follows the end command is not ours. */
			return b->avail_in > 0 ? SCP_E_FORMAT : 0;
		}
		if (b->avail_out > 0 && b->avail_in == 0) {
			/* Blocked for input; at EOF that means truncated. */
			return b->eof_in ? SCP_E_SHORT : 0;
		}
		if (made == 0 && b->avail_in == before) {
			return SCP_E_FATAL;
		}
	}
}

int
delta_patch_feed(struct delta_patch *pp, const void *p, size_t n)
{
	rs_buffers_t b = { 0 };

	if (pp->err != 0) {
		return pp->err;
	}
	if (n == 0) {
		return 0;
	}
	if (pp->done) {
		return pp->err = SCP_E_FORMAT;
	}
	/* librsync only reads its input. */
	b.next_in = (char *)(uintptr_t)p;
	b.avail_in = n;
	pp->err = patch_run(pp, &b);
	return pp->err;
}

int
delta_patch_finish(struct delta_patch *pp, uint64_t *written)
{
	rs_buffers_t b = { 0 };

	if (pp->err == 0 && !pp->done) {
		b.eof_in = 1;
		pp->err = patch_run(pp, &b);
		if (pp->err == 0 && !pp->done) {
			pp->err = SCP_E_SHORT;
		}
	}
	if (written != NULL) {
		*written = pp->written;
	}
	return pp->err;
}

void
delta_patch_free(struct delta_patch *pp)
{
	if (pp == NULL) {
		return;
	}
	if (pp->job != NULL) {
		rs_job_free(pp->job);
	}
	free(pp->obuf);
	free(pp);
}

int
delta_patch_buf(int basefd, int outfd, uint64_t out_max, const void *p,
    size_t n, uint64_t *written)
{
	struct delta_patch *pp = NULL;
	int r;

	if (written != NULL) {
		*written = 0;
	}
	if ((r = delta_patch_begin(basefd, outfd, out_max, &pp)) != 0) {
		return r;
	}
	r = delta_patch_feed(pp, p, n);
	/* finish() also reports the count after a failed feed. */
	if (delta_patch_finish(pp, written) != 0 && r == 0) {
		r = pp->err;
	}
	delta_patch_free(pp);
	return r;
}
