/*
 * What every librsync job here shares: its messages routed to our log,
 * its result codes as ours, and the loop that feeds it a file.
 */
#include "delta_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "../util/err.h"
#include "../util/log.h"

static pthread_once_t delta_once = PTHREAD_ONCE_INIT;

static void
delta_trace(rs_loglevel level, const char *msg)
{
	(void)level;
	log_debug2("librsync: %s", msg);
}

static void
delta_rs_setup(void)
{
	/* Warnings and errors only: its info lines are statistics. */
	rs_trace_set_level(RS_LOG_WARNING);
	rs_trace_to(delta_trace);
}

void
delta_rs_init(void)
{
	pthread_once(&delta_once, delta_rs_setup);
}

int
delta_rs_err(rs_result r)
{
	switch (r) {
	case RS_DONE:
		return 0;
	case RS_MEM_ERROR:
		return SCP_E_NOMEM;
	case RS_INPUT_ENDED:
		return SCP_E_SHORT;
	case RS_IO_ERROR:
		return SCP_E_SYS;
	default:
		return SCP_E_FORMAT;
	}
}

/* Up to n bytes at `off` into p; *got 0 at EOF.  EINTR is retried. */
static int
delta_pread(int fd, void *p, size_t n, uint64_t off, size_t *got)
{
	ssize_t k;

	if (off > (uint64_t)INT64_MAX - n) {
		return SCP_E_RANGE;
	}
	do {
		k = pread(fd, p, n, (off_t)off);
	} while (k < 0 && errno == EINTR);
	if (k < 0) {
		return SCP_E_SYS;
	}
	*got = (size_t)k;
	return 0;
}

int
delta_drive(rs_job_t *job, int fd, size_t offer, delta_emit_fn *emit,
    void *arg)
{
	rs_buffers_t b = { 0 };
	rs_result res;
	char *in = NULL, *out = NULL;
	uint64_t off = 0;
	size_t got, made, given, pos = 0, len = 0;
	int r, full = 0, eof = 0;

	if ((in = malloc(DELTA_CHUNK)) == NULL ||
	    (out = malloc(DELTA_CHUNK)) == NULL) {
		r = SCP_E_NOMEM;
		goto out;
	}
	for (;;) {
		/*
		 * librsync's delta copies all offered input into its own
		 * buffer: offering more while its output is full would
		 * let that grow with the file.
		 */
		if (pos == len && !eof && !full) {
			if ((r = delta_pread(fd, in, DELTA_CHUNK, off,
			    &got)) != 0) {
				goto out;
			}
			pos = 0;
			len = got;
			eof = got == 0;
			off += got;
		}
		given = len - pos < offer ? len - pos : offer;
		b.next_in = in + pos;
		b.avail_in = given;
		b.eof_in = eof;
		b.next_out = out;
		b.avail_out = DELTA_CHUNK;
		res = rs_job_iter(job, &b);
		if (res != RS_DONE && res != RS_BLOCKED) {
			r = delta_rs_err(res);
			goto out;
		}
		pos += given - b.avail_in;
		made = DELTA_CHUNK - b.avail_out;
		full = b.avail_out == 0;
		/* Once per turn, also for nothing: the caller's tick. */
		if ((r = emit(arg, made > 0 ? (uint8_t *)out : NULL,
		    made)) != 0) {
			goto out;
		}
		if (res == RS_DONE) {
			break;
		}
		/* At EOF, blocked with nothing taken or made: stuck. */
		if (eof && made == 0 && b.avail_in == given) {
			r = SCP_E_FATAL;
			goto out;
		}
	}
	r = 0;
out:
	free(in);
	free(out);
	return r;
}
