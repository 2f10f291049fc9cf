/*
 * The file job (file.h) as a chain of completions: open the source,
 * open the sink (with the STATs of the final name in the same round
 * trip), data, closes and attributes together, rename.  Messages are
 * OpenSSH's (its crossload_file and do_upload) and are kept for the
 * head.
 */
#include "file.h"

#include <stdlib.h>
#include <string.h>

#include "transfer.h"
#include "../transport/io.h"
#include "../util/err.h"
#include "../util/log.h"
#include "../util/xmalloc.h"

enum {
	F_SOPEN, F_DOPEN, F_LINK, F_DATA, F_CLOSE, F_RENAME, F_END
};

struct xfile {
	struct xjob j;
	struct xfile_ctx *c;
	char *spath, *dpath, *tmp;
	struct sftp_attr sa;
	uint64_t size;
	int fresh, depth, inplace;
	int phase;
	int pending;		/* operations of this phase unanswered */
	struct xop o_sopen, o_dstat, o_dlstat, o_dopen, o_copy, o_real;
	struct xop o_sclose, o_keep, o_trunc, o_attr, o_fsync, o_dclose;
	struct xop o_rename, o_remove;
	struct sftp_handle sh, dh;
	struct sftp_attr final;
	/* The data: OpenSSH's do_download() pipeline, over two ends. */
	uint64_t offset, data_end, total, eof_at, fail_off;
	uint32_t buflen, max_req;
	size_t nreads, nwrites;
	int read_error, wfail;
	uint32_t rstatus, wstatus;
	int starved;
	struct xfile *snext;
	int ok, rc, keep;
	int data_started, metered;
};

/* One READ or WRITE in flight. */
struct xblk {
	struct xop op;
	struct xfile *f;
};

static void file_fill(struct xfile *f);
static void file_data_done(struct xfile *f);
static void file_open_dst(struct xfile *f);

void
xfile_ctx_init(struct xfile_ctx *c, struct xep *src, struct xep *dst,
    const struct sftp_opts *o, struct sftp_session *meter)
{
	memset(c, 0, sizeof(*c));
	c->src = src;
	c->dst = dst;
	c->meter = meter;
	c->preserve = o->preserve;
	c->inplace = o->inplace;
	c->fsync = o->fsync;
	c->copy = src == dst && xep_can_copy(src);
	c->rnreq = xep_nreq(src) > 0 ? xep_nreq(src) : 1;
	c->wnreq = xep_nreq(dst) > 0 ? xep_nreq(dst) : 1;
	/* What one file had in flight before: its READs and its WRITEs. */
	c->cap = (size_t)c->rnreq + c->wnreq;
}

static int
file_op(struct xfile *f, struct xep *e, struct xop *op, enum xop_kind kind,
    void (*done)(struct xop *))
{
	op->kind = kind;
	op->ctx = f;
	op->done = done;
	op->tag = 1;		/* sent */
	f->pending++;
	return xjob_start_op(&f->j, e, op);
}

static const char *
fx(const struct xop *op)
{
	return sftp_fx2txt(op->fx);
}

static void
file_end(struct xfile *f)
{
	f->phase = F_END;
	xjob_finish(&f->j, !f->ok || f->rc != 0);
}

/* ---- the sink's end: rename or cleanup ---- */

static void
done_remove(struct xop *op)
{
	file_end(op->ctx);
}

static void
file_cleanup(struct xfile *f)
{
	if (f->keep) {
		xjob_msg(&f->j, "partial data kept in \"%s\" (--resume)",
		    f->tmp);
	} else if (!f->ok && f->tmp != NULL && !io_cancelled()) {
		f->o_remove.path = f->tmp;
		(void)file_op(f, f->c->dst, &f->o_remove, XOP_REMOVE,
		    done_remove);
		return;
	}
	file_end(f);
}

static void
done_rename(struct xop *op)
{
	struct xfile *f = op->ctx;

	if (op->rc == SCP_E_PEER) {
		xjob_msg(&f->j, "rename \"%s\" to \"%s\": %s", f->tmp,
		    f->dpath, fx(op));
		f->ok = 0;
	}
	file_cleanup(f);
}

/* Every close-time answer is in: their messages in request order. */
static void
file_closed(struct xfile *f)
{
	if (f->o_keep.tag && f->o_keep.rc != 0) {
		f->keep = 0;
	}
	if (f->o_trunc.tag && f->o_trunc.rc != 0) {
		xjob_msg(&f->j, "remote ftruncate \"%s\": %s", f->dpath,
		    fx(&f->o_trunc));
		f->ok = 0;
	}
	if (f->o_attr.tag && f->o_attr.rc != 0) {
		xjob_msg(&f->j, "remote fsetstat \"%s\": %s", f->dpath,
		    fx(&f->o_attr));
		/* OpenSSH reports this but keeps the file. */
		f->rc = 1;
	}
	if (f->o_fsync.tag && f->o_fsync.rc != 0) {
		/* As OpenSSH's do_fsync(): reported, the file is kept. */
		xjob_msg(&f->j, "remote fsync: %s", fx(&f->o_fsync));
		f->rc = 1;
	}
	if (f->o_dclose.rc != 0) {
		xjob_msg(&f->j, "close remote \"%s\": %s", f->dpath,
		    fx(&f->o_dclose));
		f->ok = 0;
	}
	if (f->tmp != NULL && f->ok) {
		f->phase = F_RENAME;
		f->o_rename.path = f->tmp;
		f->o_rename.path2 = f->dpath;
		(void)file_op(f, f->c->dst, &f->o_rename, XOP_RENAME,
		    done_rename);
		return;
	}
	file_cleanup(f);
}

static void
done_close(struct xop *op)
{
	struct xfile *f = op->ctx;

	if (--f->pending == 0) {
		file_closed(f);
	}
}

/*
 * Closes both ends.  On the sink, truncation (in place), attributes,
 * fsync and CLOSE travel together: requests on one handle are handled
 * in order (filexfer-02).
 */
static void
file_close(struct xfile *f, int sclose)
{
	struct xfile_ctx *c = f->c;

	f->phase = F_CLOSE;
	f->pending = 0;
	if (sclose) {
		f->o_sclose.h = &f->sh;
		if (file_op(f, c->src, &f->o_sclose, XOP_CLOSE,
		    done_close) != 0) {
			return;
		}
	}
	if (f->wfail) {
		xjob_msg(&f->j, "write remote \"%s\": %s", f->dpath,
		    sftp_fx2txt(f->wstatus));
		f->ok = 0;
		/* A full disk: keep what was written, cut below the first
		 * failed WRITE so it has no hole, for --resume. */
		if (f->tmp != NULL) {
			f->o_keep.h = &f->dh;
			memset(&f->o_keep.a, 0, sizeof(f->o_keep.a));
			f->o_keep.a.flags = SSH2_FILEXFER_ATTR_SIZE;
			f->o_keep.a.size = f->fail_off;
			f->keep = 1;
			if (file_op(f, c->dst, &f->o_keep, XOP_FSETSTAT,
			    done_close) != 0) {
				return;
			}
		}
	}
	if (f->ok && f->tmp == NULL) {
		/* In place: cut what an older, longer file left behind. */
		f->o_trunc.h = &f->dh;
		memset(&f->o_trunc.a, 0, sizeof(f->o_trunc.a));
		f->o_trunc.a.flags = SSH2_FILEXFER_ATTR_SIZE;
		f->o_trunc.a.size = f->data_end;
		if (file_op(f, c->dst, &f->o_trunc, XOP_FSETSTAT,
		    done_close) != 0) {
			return;
		}
	}
	if (f->ok && f->final.flags != 0) {
		f->o_attr.h = &f->dh;
		f->o_attr.a = f->final;
		if (file_op(f, c->dst, &f->o_attr, XOP_FSETSTAT,
		    done_close) != 0) {
			return;
		}
	}
	if (f->ok && c->fsync) {
		if (xep_can_fsync(c->dst)) {
			f->o_fsync.h = &f->dh;
			if (file_op(f, c->dst, &f->o_fsync, XOP_FSYNC,
			    done_close) != 0) {
				return;
			}
		} else if (!c->fsync_warned) {
			log_debug("server does not support the "
			    "fsync@openssh.com extension");
			c->fsync_warned = 1;
		}
	}
	f->o_dclose.h = &f->dh;
	(void)file_op(f, c->dst, &f->o_dclose, XOP_CLOSE, done_close);
}

/* ---- data ---- */

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
	return b;
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
		free(b);
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
		/* The partial is whole below the first failed WRITE. */
		if (!f->wfail || op->off < f->fail_off) {
			f->fail_off = op->off;
		}
		if (!f->wfail) {
			f->wfail = 1;
			f->wstatus = op->fx;
		}
		f->max_req = 0;
	}
	free(b);
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
			w->op.h = &f->dh;
			w->op.off = op->off;
			w->op.wdata = op->data;
			w->op.wlen = op->dlen;
			f->nwrites++;
			f->c->inflight++;
			if (xjob_start_op(&f->j, f->c->dst, &w->op) != 0) {
				free(w);
				free(b);
				return;
			}
		}
		f->total += op->dlen;
		end = op->off + op->dlen;
		if (end > f->data_end) {
			f->data_end = end;
		}
		file_meter(f);
		if (op->dlen < op->len) {
			/* Short block: ask for the rest. */
			if (send_read(f, end, op->len - (uint32_t)op->dlen) !=
			    0) {
				free(b);
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
	free(b);
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
	    f->nwrites < c->wnreq) {
		if (c->inflight >= c->cap) {
			starve(f);
			return;
		}
		if (send_read(f, f->offset, f->buflen) != 0) {
			return;
		}
		f->offset += f->buflen;
	}
	if (f->max_req == 0 && f->nreads == 0 && f->nwrites == 0) {
		file_data_done(f);
	}
}

static void
file_data_done(struct xfile *f)
{
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
		xjob_msg(&f->j, "read remote \"%s\" : %s", f->spath,
		    sftp_fx2txt(f->rstatus));
	}
	/* As a download: EOF away from the STAT size means neither the old
	 * nor the new file; not committed (0 = pseudo-file). */
	if (f->ok && f->size != 0 && f->data_end != f->size) {
		xjob_msg(&f->j, "read remote \"%s\": file changed size during "
		    "transfer (expected %llu bytes, got %llu)", f->spath,
		    (unsigned long long)f->size,
		    (unsigned long long)f->data_end);
		f->ok = 0;
	}
	file_close(f, 1);
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
		file_close(f, 1);
		return;
	}
	log_debug("copy-data \"%s\": %s, relaying", f->spath, fx(op));
	file_fill(f);
}

static void
file_start_data(struct xfile *f)
{
	struct xfile_ctx *c = f->c;

	f->phase = F_DATA;
	f->data_started = 1;
	f->pending = 0;
	f->buflen = xep_read_len(c->src);
	f->max_req = 1;
	f->eof_at = UINT64_MAX;
	if (c->copy) {
		f->o_copy.h = &f->sh;
		f->o_copy.h2 = &f->dh;
		(void)file_op(f, c->src, &f->o_copy, XOP_COPY, done_copy);
		return;
	}
	file_fill(f);
}

/* ---- opening ---- */

static void
done_sclose_only(struct xop *op)
{
	file_end(op->ctx);
}

/*
 * The target is a symlink: the temporary file beside it is dropped and
 * what the link points to is written instead, keeping the link (as
 * OpenSSH and an in-place write do); a dangling link in place.  Goes on
 * once the CLOSE, the REMOVE and the REALPATH are all answered.
 */
static void
done_link(struct xop *op)
{
	struct xfile *f = op->ctx;

	if (--f->pending > 0) {
		return;
	}
	free(f->tmp);
	f->tmp = NULL;
	if (f->o_real.rc != 0) {
		f->inplace = 1;
	} else {
		log_debug2("\"%s\" is a symlink to \"%s\"", f->dpath,
		    f->o_real.rpath);
		free(f->dpath);
		f->dpath = f->o_real.rpath;
		f->o_real.rpath = NULL;
		f->inplace = 0;
	}
	f->fresh = 0;
	f->depth++;
	file_open_dst(f);
}

static void
file_through_link(struct xfile *f)
{
	struct xfile_ctx *c = f->c;

	f->phase = F_LINK;
	f->pending = 0;
	f->o_dclose.h = &f->dh;
	f->o_remove.path = f->tmp;
	f->o_real.path = f->dpath;
	if (file_op(f, c->dst, &f->o_dclose, XOP_CLOSE, done_link) != 0 ||
	    file_op(f, c->dst, &f->o_remove, XOP_REMOVE, done_link) != 0) {
		return;
	}
	(void)file_op(f, c->dst, &f->o_real, XOP_REALPATH, done_link);
}

static void
file_dst_opened(struct xfile *f)
{
	struct xfile_ctx *c = f->c;
	int existed = 0, islink = 0;

	if (f->o_dopen.rc != 0) {
		xjob_msg(&f->j, "dest open \"%s\": %s", f->dpath,
		    fx(&f->o_dopen));
		f->ok = 0;
		f->pending = 0;
		f->o_sclose.h = &f->sh;
		(void)file_op(f, c->src, &f->o_sclose, XOP_CLOSE,
		    done_sclose_only);
		return;
	}
	f->dh = f->o_dopen.oh;
	if (f->o_dstat.tag) {
		if (f->o_dstat.rc == 0 && sftp_attr_is_reg(&f->o_dstat.a)) {
			existed = 1;
			if (!c->preserve) {
				f->o_dopen.a.perm = f->o_dstat.a.perm & 0777;
			}
		}
		islink = f->o_dlstat.rc == 0 &&
		    sftp_attr_is_lnk(&f->o_dlstat.a) && f->depth < 2;
	}
	if (islink) {
		file_through_link(f);
		return;
	}
	memset(&f->final, 0, sizeof(f->final));
	if (c->preserve) {
		f->final.flags = SSH2_FILEXFER_ATTR_PERMISSIONS;
		f->final.perm = f->sa.perm & 0777;
		if (f->sa.flags & SSH2_FILEXFER_ATTR_ACMODTIME) {
			f->final.flags |= SSH2_FILEXFER_ATTR_ACMODTIME;
			f->final.atime = f->sa.atime;
			f->final.mtime = f->sa.mtime;
		}
	} else if (existed) {
		/* The temporary file got the source's mode. */
		f->final.flags = SSH2_FILEXFER_ATTR_PERMISSIONS;
		f->final.perm = f->o_dopen.a.perm;
	}
	file_start_data(f);
}

static void
done_dopen(struct xop *op)
{
	struct xfile *f = op->ctx;

	if (--f->pending == 0) {
		file_dst_opened(f);
	}
}

/*
 * The STATs of the final name (its mode survives unless -p, PROTOCOL.md
 * section 4) and the OPEN of the temporary name travel together.
 */
static void
file_open_dst(struct xfile *f)
{
	struct xfile_ctx *c = f->c;
	struct xop *o = &f->o_dopen;

	f->phase = F_DOPEN;
	f->pending = 0;
	f->o_dstat.tag = f->o_dlstat.tag = 0;
	memset(&o->a, 0, sizeof(o->a));
	o->a.flags = SSH2_FILEXFER_ATTR_PERMISSIONS;
	o->a.perm = f->sa.perm & 0777;
	o->flags = SSH2_FXF_WRITE | SSH2_FXF_CREAT;
	if (!f->inplace) {
		f->tmp = sftp_upload_temp_name(f->dpath, &f->sa);
		o->flags |= SSH2_FXF_TRUNC;
	}
	if (f->tmp != NULL && !f->fresh) {
		f->o_dstat.path = f->o_dlstat.path = f->dpath;
		if (file_op(f, c->dst, &f->o_dstat, XOP_STAT,
		    done_dopen) != 0 ||
		    file_op(f, c->dst, &f->o_dlstat, XOP_LSTAT,
		    done_dopen) != 0) {
			return;
		}
	}
	o->path = f->tmp != NULL ? f->tmp : f->dpath;
	(void)file_op(f, c->dst, o, XOP_OPEN, done_dopen);
}

static void
done_sopen(struct xop *op)
{
	struct xfile *f = op->ctx;

	f->pending--;
	if (op->rc != 0) {
		xjob_msg(&f->j, "remote open \"%s\": %s", f->spath, fx(op));
		f->ok = 0;
		file_end(f);
		return;
	}
	f->sh = op->oh;
	file_open_dst(f);
}

static int
file_start(struct xjob *j)
{
	struct xfile *f = (struct xfile *)j;

	f->phase = F_SOPEN;
	f->o_sopen.path = f->spath;
	f->o_sopen.flags = SSH2_FXF_READ;
	memset(&f->o_sopen.a, 0, sizeof(f->o_sopen.a));
	return file_op(f, f->c->src, &f->o_sopen, XOP_OPEN, done_sopen);
}

/* The meter shows the head's progress; a file done before it became
 * the head shows its whole meter at once. */
static void
file_head(struct xjob *j)
{
	struct xfile *f = (struct xfile *)j;

	if (f->size == 0 || !f->data_started) {
		return;
	}
	if (!f->metered) {
		sftp_meter_start(f->c->meter, f->spath, f->size);
		f->metered = 1;
	}
	sftp_meter_update(f->c->meter, f->total);
	if (j->done) {
		sftp_meter_end(f->c->meter);
		f->metered = 0;
		f->data_started = 0;
	}
}

static void
file_free(struct xjob *j)
{
	struct xfile *f = (struct xfile *)j;

	free(f->spath);
	free(f->dpath);
	free(f->tmp);
	free(f->o_real.rpath);
	free(f);
}

static const struct xjob_ops file_ops = {
	.start = file_start,
	.head = file_head,
	.free = file_free,
};

int
xfile_add(struct xeng *g, struct xfile_ctx *c, const char *spath,
    const struct sftp_attr *sa, const char *dpath, int fresh)
{
	struct xfile *f = xcalloc(1, sizeof(*f));

	xjob_init(&f->j, &file_ops, 1);
	f->c = c;
	f->spath = xstrdup(spath);
	f->dpath = xstrdup(dpath);
	f->sa = *sa;
	if (!(f->sa.flags & SSH2_FILEXFER_ATTR_PERMISSIONS)) {
		f->sa.flags |= SSH2_FILEXFER_ATTR_PERMISSIONS;
		f->sa.perm = 0666;
	}
	f->size = (f->sa.flags & SSH2_FILEXFER_ATTR_SIZE) ? f->sa.size : 0;
	f->fresh = fresh;
	f->inplace = c->inplace;
	return xeng_add(g, &f->j);
}
