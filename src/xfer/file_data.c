/*
 * The file job's data (file_int.h): OpenSSH's do_download() READ
 * pipeline, each block written to the sink at its offset as it comes,
 * under a budget of requests in flight that the transfer's files share
 * (the oldest file waiting goes first), and copy-data when both ends
 * are one server.  Small files are asked for whole, with a probe past
 * their end, in one round trip.
 */
#include "file_int.h"

#include <stdlib.h>
#include <string.h>

#include "transfer.h"
#include "../transport/io.h"
#include "../util/err.h"
#include "../util/log.h"
#include "../util/xmalloc.h"

/* Files up to this many blocks are asked for whole at once. */
#define FILE_SMALL_BLOCKS	4

/* One READ or WRITE in flight. */
struct xblk {
	struct xop op;
	struct xfile *f;
	struct xblk *prev, *next;	/* the file's blocks in flight */
};


static void file_fill(struct xfile *f);
static void file_data_done(struct xfile *f);
static void done_eclose(struct xop *op);

static void
starve(struct xfile *f)
{
	struct xfile_ctx *c = f->c;

	if (f->starved) {
		return;
	}
	f->starved = 1;
	f->snext = NULL;
	if (c->starved_tail != NULL) {
		c->starved_tail->snext = f;
	} else {
		c->starved = f;
	}
	c->starved_tail = f;
}

void
xfile_unstarve(struct xfile *f)
{
	struct xfile_ctx *c = f->c;
	struct xfile **pp, *prev = NULL;

	if (!f->starved) {
		return;
	}
	for (pp = &c->starved; *pp != NULL; prev = *pp, pp = &(*pp)->snext) {
		if (*pp == f) {
			*pp = f->snext;
			if (c->starved_tail == f) {
				c->starved_tail = prev;
			}
			break;
		}
	}
	f->starved = 0;
	f->snext = NULL;
}

/* Budget freed: files waiting for it go on, oldest (walk order) first. */
static void
kick(struct xfile_ctx *c)
{
	struct xfile *f;

	while (c->inflight < c->cap && (f = c->starved) != NULL) {
		c->starved = f->snext;
		if (c->starved == NULL) {
			c->starved_tail = NULL;
		}
		f->starved = 0;
		file_fill(f);
	}
}

static void done_read(struct xop *op);
static void done_write(struct xop *op);

static struct xblk *
blk_new(struct xfile *f, enum xop_kind kind)
{
	struct xblk *b = xcalloc(1, sizeof(*b));

	b->f = f;
	b->op.kind = kind;
	b->op.ctx = b;
	b->op.done = kind == XOP_READ ? done_read : done_write;
	b->next = f->blks;
	if (b->next != NULL) {
		b->next->prev = b;
	}
	f->blks = b;
	return b;
}

static void
blk_free(struct xblk *b)
{
	struct xfile *f = b->f;

	if (b->prev != NULL) {
		b->prev->next = b->next;
	} else {
		f->blks = b->next;
	}
	if (b->next != NULL) {
		b->next->prev = b->prev;
	}
	free(b);
}

void
xfile_blks_free(struct xfile *f)
{
	while (f->blks != NULL) {
		blk_free(f->blks);
	}
}

static int
send_read(struct xfile *f, uint64_t off, uint32_t len)
{
	struct xblk *b = blk_new(f, XOP_READ);

	b->op.h = &f->sh;
	b->op.off = off;
	b->op.len = len;
	f->nreads++;
	f->c->inflight++;
	if (xjob_start_op(&f->j, f->c->src, &b->op) != 0) {
		blk_free(b);
		return -1;
	}
	return 0;
}

static void
done_write(struct xop *op)
{
	struct xblk *b = op->ctx;
	struct xfile *f = b->f;

	f->nwrites--;
	f->c->inflight--;
	if (op->rc != 0) {
		/* The sink remembers where, for its partial. */
		f->wfail = 1;
		f->max_req = 0;
	}
	blk_free(b);
	file_fill(f);
	kick(f->c);
}

static void
file_meter(struct xfile *f)
{
	if (f->metered && xjob_is_head(&f->j)) {
		sftp_meter_update(f->c->meter, f->total);
	}
}

static void
done_read(struct xop *op)
{
	struct xblk *b = op->ctx, *w;
	struct xfile *f = b->f;
	uint64_t end;

	f->nreads--;
	f->c->inflight--;
	if (op->rc == XOP_EOF) {
		if (op->off < f->eof_at) {
			f->eof_at = op->off;
		}
		f->max_req = 0;
	} else if (op->rc != 0) {
		if (!f->read_error) {
			f->read_error = 1;
			f->rstatus = op->fx;
		}
		f->max_req = 0;
	} else {
		if (!f->wfail) {
			w = blk_new(f, XOP_WRITE);
			w->op.sk = f->sk;
			w->op.off = op->off;
			w->op.wdata = op->data;
			w->op.wlen = op->dlen;
			f->nwrites++;
			f->c->inflight++;
			if (xjob_start_op(&f->j, f->c->dst, &w->op) != 0) {
				blk_free(w);
				blk_free(b);
				return;
			}
		}
		f->total += op->dlen;
		end = op->off + op->dlen;
		if (end > f->data_end) {
			f->data_end = end;
		}
		file_meter(f);
		if (f->eclose_sent && (op->dlen < op->len ||
		    end > f->size)) {
			/* Short, or grown: not on this handle (closed). */
			f->redo = 1;
		} else if (op->dlen < op->len) {
			/* Short block: ask for the rest. */
			if (send_read(f, end, op->len - (uint32_t)op->dlen) !=
			    0) {
				blk_free(b);
				return;
			}
			if (op->dlen < f->buflen) {
				f->buflen = op->dlen < SFTP_MIN_BLOCK ?
				    SFTP_MIN_BLOCK : (uint32_t)op->dlen;
			}
		}
		if (f->max_req > 0) {
			if (f->size > 0 && f->offset > f->size) {
				/* One at a time past the expected end. */
				f->max_req = 1;
			} else if (f->max_req < f->c->rnreq) {
				f->max_req++;
			}
		}
	}
	blk_free(b);
	file_fill(f);
	kick(f->c);
}

/* Asks for more blocks while the file's and the transfer's budgets
 * allow; ends the data phase once nothing is in flight or due. */
static void
file_fill(struct xfile *f)
{
	struct xfile_ctx *c = f->c;

	if (f->phase != F_DATA) {
		return;
	}
	if (io_cancelled()) {
		f->max_req = 0;
	}
	while (f->max_req > 0 && f->nreads < f->max_req &&
	    f->nwrites < c->wnreq && !f->eclose_sent) {
		if (c->inflight >= c->cap) {
			starve(f);
			return;
		}
		if (send_read(f, f->offset, f->buflen) != 0) {
			return;
		}
		f->offset += f->buflen;
	}
	if (f->early && !f->eclose_sent && f->offset > f->size) {
		/* Every block and the probe are out: the CLOSE follows
		 * them, answered in the same round trip. */
		f->eclose_sent = 1;
		f->o_sclose.h = &f->sh;
		f->o_sclose.kind = XOP_CLOSE;
		f->o_sclose.ctx = f;
		f->o_sclose.done = done_eclose;
		if (xjob_start_op(&f->j, c->src, &f->o_sclose) != 0) {
			return;
		}
	}
	if ((f->max_req == 0 || f->eclose_sent) && f->nreads == 0 &&
	    f->nwrites == 0 && (!f->eclose_sent || f->eclosed)) {
		file_data_done(f);
	}
}

static void
done_eclose(struct xop *op)
{
	struct xfile *f = op->ctx;

	f->eclosed = 1;
	f->eclose_rc = op->rc != 0;
	file_fill(f);
}

static void
done_reopen(struct xop *op)
{
	struct xfile *f = op->ctx;

	if (op->rc != 0) {
		strvec_pushf(&f->j.msgs, "remote open \"%s\": %s", f->spath,
		    xfile_fx(op));
		f->ok = 0;
		xfile_close(f, 0);
		return;
	}
	f->sh = op->oh;
	f->phase = F_DATA;
	f->offset = f->total = f->data_end = 0;
	f->eof_at = UINT64_MAX;
	f->buflen = xep_read_len(f->c->src);
	f->max_req = 1;
	file_fill(f);
}

/* The small file changed under its closed handle: again, from 0. */
static void
file_redo(struct xfile *f)
{
	f->early = f->eclose_sent = f->eclosed = f->redo = 0;
	f->o_sopen.path = f->spath;
	f->o_sopen.flags = SSH2_FXF_READ;
	memset(&f->o_sopen.a, 0, sizeof(f->o_sopen.a));
	f->o_sopen.kind = XOP_OPEN;
	f->o_sopen.ctx = f;
	f->o_sopen.done = done_reopen;
	(void)xjob_start_op(&f->j, f->c->src, &f->o_sopen);
}

static void
file_data_done(struct xfile *f)
{
	xfile_unstarve(f);
	if (f->redo && !f->read_error && !f->wfail) {
		f->phase = F_OPEN;
		file_redo(f);
		return;
	}
	f->phase = F_CLOSE;
	if (!f->read_error && !f->wfail &&
	    (f->data_end > f->eof_at || f->total != f->data_end)) {
		/* EOF before data we received, or a hole: the server lies. */
		xjob_fatal(&f->j, xep_fail(f->c->src,
		    "Server sent inconsistent data and EOF"));
		return;
	}
	f->ok = !f->read_error;
	if (f->read_error) {
		strvec_pushf(&f->j.msgs, "read remote \"%s\" : %s", f->spath,
		    sftp_fx2txt(f->rstatus));
	}
	/* As a download: EOF away from the STAT size means neither the old
	 * nor the new file; not committed (0 = pseudo-file). */
	if (f->ok && f->size != 0 && f->data_end != f->size) {
		strvec_pushf(&f->j.msgs, "read remote \"%s\": file changed size during "
		    "transfer (expected %llu bytes, got %llu)", f->spath,
		    (unsigned long long)f->size,
		    (unsigned long long)f->data_end);
		f->ok = 0;
	}
	/* An early CLOSE went already, and was answered. */
	if (f->eclose_sent && f->eclose_rc) {
		xfile_sclosed(f, &f->o_sclose);
	}
	xfile_close(f, !f->eclose_sent);
}

static void
done_copy(struct xop *op)
{
	struct xfile *f = op->ctx;

	f->pending--;
	if (op->rc == 0) {
		/* The server read to its EOF; trust the STAT size (only
		 * --inplace truncates to it). */
		f->data_end = f->total = f->size;
		f->ok = 1;
		file_meter(f);
		xfile_close(f, 1);
		return;
	}
	log_debug("copy-data \"%s\": %s, relaying", f->spath, xfile_fx(op));
	file_fill(f);
}

void
xfile_start_data(struct xfile *f)
{
	struct xfile_ctx *c = f->c;

	f->phase = F_DATA;
	f->data_started = 1;
	f->pending = 0;
	f->buflen = xep_read_len(c->src);
	f->max_req = 1;
	if (f->size > 0 && f->size <= (uint64_t)f->buflen * FILE_SMALL_BLOCKS) {
		/*
		 * A small file: its blocks and a probe past its end in one
		 * round trip (a first block as long as the file, so no
		 * short DATA asks for the rest); the probe's EOF ends it.
		 */
		if (f->size < f->buflen) {
			f->buflen = (uint32_t)f->size;
		}
		f->max_req = (uint32_t)((f->size + f->buflen - 1) / f->buflen) +
		    1;
		f->early = !c->copy;
	}
	f->eof_at = UINT64_MAX;
	if (c->copy) {
		f->o_copy.h = &f->sh;
		f->o_copy.sk = f->sk;
		(void)xfile_op(f, c->src, &f->o_copy, XOP_COPY, done_copy);
		return;
	}
	file_fill(f);
}
