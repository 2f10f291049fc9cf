/*
 * The file job (file.h) as a chain of completions: the source's OPEN
 * and the sink's (with the STATs of the final name) in one round trip,
 * data (file_data.c), closes and attributes together, rename.
 * Messages are OpenSSH's (its crossload_file and do_upload) and are
 * kept for the head.
 */
#include "file_int.h"

#include <stdlib.h>
#include <string.h>

#include "transfer.h"
#include "../transport/io.h"
#include "../util/err.h"
#include "../util/log.h"
#include "../util/report.h"
#include "../util/xmalloc.h"

static void file_open_dst(struct xfile *f);
static void file_dst_opened(struct xfile *f);

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

int
xfile_op(struct xfile *f, struct xep *e, struct xop *op, enum xop_kind kind,
    void (*done)(struct xop *))
{
	op->kind = kind;
	op->ctx = f;
	op->done = done;
	op->tag = 1;		/* sent */
	f->pending++;
	return xjob_start_op(&f->j, e, op);
}

const char *
xfile_fx(const struct xop *op)
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
		strvec_pushf(&f->j.msgs, "partial data kept in \"%s\" (--resume)",
		    f->tmp);
	} else if (!f->ok && f->tmp != NULL && !io_cancelled()) {
		f->o_remove.path = f->tmp;
		(void)xfile_op(f, f->c->dst, &f->o_remove, XOP_REMOVE,
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
		strvec_pushf(&f->j.msgs, "rename \"%s\" to \"%s\": %s", f->tmp,
		    f->dpath, xfile_fx(op));
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
		strvec_pushf(&f->j.msgs, "remote ftruncate \"%s\": %s", f->dpath,
		    xfile_fx(&f->o_trunc));
		f->ok = 0;
	}
	if (f->o_attr.tag && f->o_attr.rc != 0) {
		strvec_pushf(&f->j.msgs, "remote fsetstat \"%s\": %s", f->dpath,
		    xfile_fx(&f->o_attr));
		/* OpenSSH reports this but keeps the file. */
		f->rc = 1;
	}
	if (f->o_fsync.tag && f->o_fsync.rc != 0) {
		/* As OpenSSH's do_fsync(): reported, the file is kept. */
		strvec_pushf(&f->j.msgs, "remote fsync: %s", xfile_fx(&f->o_fsync));
		f->rc = 1;
	}
	if (f->o_dclose.rc != 0) {
		strvec_pushf(&f->j.msgs, "close remote \"%s\": %s", f->dpath,
		    xfile_fx(&f->o_dclose));
		f->ok = 0;
	}
	if (f->tmp != NULL && f->ok) {
		f->phase = F_RENAME;
		f->o_rename.path = f->tmp;
		f->o_rename.path2 = f->dpath;
		(void)xfile_op(f, f->c->dst, &f->o_rename, XOP_RENAME,
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
void
xfile_close(struct xfile *f, int sclose)
{
	struct xfile_ctx *c = f->c;

	f->phase = F_CLOSE;
	f->pending = 0;
	if (sclose) {
		f->o_sclose.h = &f->sh;
		if (xfile_op(f, c->src, &f->o_sclose, XOP_CLOSE,
		    done_close) != 0) {
			return;
		}
	}
	if (f->wfail) {
		strvec_pushf(&f->j.msgs, "write remote \"%s\": %s", f->dpath,
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
			if (xfile_op(f, c->dst, &f->o_keep, XOP_FSETSTAT,
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
		if (xfile_op(f, c->dst, &f->o_trunc, XOP_FSETSTAT,
		    done_close) != 0) {
			return;
		}
	}
	if (f->ok && f->final.flags != 0) {
		f->o_attr.h = &f->dh;
		f->o_attr.a = f->final;
		if (xfile_op(f, c->dst, &f->o_attr, XOP_FSETSTAT,
		    done_close) != 0) {
			return;
		}
	}
	if (f->ok && c->fsync) {
		if (xep_can_fsync(c->dst)) {
			f->o_fsync.h = &f->dh;
			if (xfile_op(f, c->dst, &f->o_fsync, XOP_FSYNC,
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
	(void)xfile_op(f, c->dst, &f->o_dclose, XOP_CLOSE, done_close);
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
	if (xfile_op(f, c->dst, &f->o_dclose, XOP_CLOSE, done_link) != 0 ||
	    xfile_op(f, c->dst, &f->o_remove, XOP_REMOVE, done_link) != 0) {
		return;
	}
	(void)xfile_op(f, c->dst, &f->o_real, XOP_REALPATH, done_link);
}

static void
file_dst_opened(struct xfile *f)
{
	struct xfile_ctx *c = f->c;
	int existed = 0, islink = 0;

	if (f->o_dopen.rc != 0) {
		strvec_pushf(&f->j.msgs, "dest open \"%s\": %s", f->dpath,
		    xfile_fx(&f->o_dopen));
		f->ok = 0;
		f->pending = 0;
		f->o_sclose.h = &f->sh;
		(void)xfile_op(f, c->src, &f->o_sclose, XOP_CLOSE,
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
	xfile_start_data(f);
}

static void file_opened(struct xfile *f);

/* Every open of this phase is answered: go on from what they said. */
static void
done_open(struct xop *op)
{
	struct xfile *f = op->ctx;

	if (--f->pending == 0) {
		file_opened(f);
	}
}

/*
 * The STATs of the final name (its mode survives unless -p, PROTOCOL.md
 * section 4) and the OPEN of the temporary name travel together, and
 * with the source's OPEN unless the final name itself is written.
 */
static void
file_open_dst(struct xfile *f)
{
	struct xfile_ctx *c = f->c;
	struct xop *o = &f->o_dopen;

	f->dst_sent = 1;
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
		if (xfile_op(f, c->dst, &f->o_dstat, XOP_STAT,
		    done_open) != 0 ||
		    xfile_op(f, c->dst, &f->o_dlstat, XOP_LSTAT,
		    done_open) != 0) {
			return;
		}
	}
	o->path = f->tmp != NULL ? f->tmp : f->dpath;
	(void)xfile_op(f, c->dst, o, XOP_OPEN, done_open);
}

static void
done_undo(struct xop *op)
{
	struct xfile *f = op->ctx;

	if (--f->pending == 0) {
		file_end(f);
	}
}

static void
file_opened(struct xfile *f)
{
	struct xfile_ctx *c = f->c;

	if (f->o_sopen.rc != 0) {
		strvec_pushf(&f->j.msgs, "remote open \"%s\": %s", f->spath,
		    xfile_fx(&f->o_sopen));
		f->ok = 0;
		/* The temporary file made meanwhile goes again. */
		if (f->dst_sent && f->o_dopen.rc == 0 && f->tmp != NULL) {
			f->pending = 0;
			f->o_dclose.h = &f->o_dopen.oh;
			f->o_remove.path = f->tmp;
			if (xfile_op(f, c->dst, &f->o_dclose, XOP_CLOSE,
			    done_undo) == 0) {
				(void)xfile_op(f, c->dst, &f->o_remove,
				    XOP_REMOVE, done_undo);
			}
			return;
		}
		file_end(f);
		return;
	}
	f->sh = f->o_sopen.oh;
	if (!f->dst_sent) {
		/* In place: the final name is opened once the source is. */
		file_open_dst(f);
		return;
	}
	file_dst_opened(f);
}

static int
file_start(struct xjob *j)
{
	struct xfile *f = (struct xfile *)j;
	int r;

	f->phase = F_OPEN;
	f->pending = 0;
	f->o_sopen.path = f->spath;
	f->o_sopen.flags = SSH2_FXF_READ;
	memset(&f->o_sopen.a, 0, sizeof(f->o_sopen.a));
	if ((r = xfile_op(f, f->c->src, &f->o_sopen, XOP_OPEN,
	    done_open)) != 0) {
		return r;
	}
	if (!f->inplace) {
		file_open_dst(f);
	}
	return 0;
}

/* A retiring file's result, for report.h: its messages (j->msgs) are
 * printed next, at retirement. */
static void
file_report(struct xfile *f)
{
	if (f->j.done) {
		report_end(f->spath, f->dpath, f->size, f->total, f->j.failed ?
		    REPORT_FAILED : REPORT_OK, f->j.failed && f->j.msgs.n > 0 ?
		    f->j.msgs.v[f->j.msgs.n - 1] : NULL);
	}
}

/* The meter shows the head's progress; a file done before it became
 * the head shows its whole meter at once. */
static void
file_head(struct xjob *j)
{
	struct xfile *f = (struct xfile *)j;

	if (f->size == 0 || !f->data_started) {
		file_report(f);
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
	file_report(f);
}

static int
file_stopped(struct xjob *j, int code)
{
	struct xfile *f = (struct xfile *)j;

	(void)code;
	if (f->phase == F_END) {
		return 0;
	}
	if (f->metered) {
		sftp_meter_end(f->c->meter);
		f->metered = 0;
	}
	log_error("copy \"%s\" to \"%s\" interrupted", f->spath, f->dpath);
	report_end(f->spath, f->dpath, f->size, f->total, REPORT_FAILED, NULL);
	return 1;
}

static void
file_free(struct xjob *j)
{
	struct xfile *f = (struct xfile *)j;

	xfile_unstarve(f);
	xfile_blks_free(f);
	free(f->spath);
	free(f->dpath);
	free(f->tmp);
	free(f->o_real.rpath);
	free(f);
}

static const struct xjob_ops file_ops = {
	.start = file_start,
	.head = file_head,
	.stopped = file_stopped,
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
