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
#include <unistd.h>

#include "transfer.h"
#include "../transport/io.h"
#include "../util/err.h"
#include "../util/log.h"
#include "../util/report.h"
#include "../util/xmalloc.h"


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
	if (!f->ok && f->in_dir && f->c->download) {
		strvec_pushf(&f->j.msgs, "Download of file %s to %s failed",
		    f->spath, f->dpath);
	}
	xjob_finish(&f->j, !f->ok);
}

/* ---- the end: the source closed, the sink file committed ---- */

static void
done_close(struct xop *op)
{
	struct xfile *f = op->ctx;

	if (--f->pending > 0) {
		return;
	}
	if (f->o_commit.rc != 0) {
		f->ok = 0;
	}
	f->sk = NULL;
	file_end(f);
}

static void
file_commit(struct xfile *f)
{
	struct xfile_ctx *c = f->c;
	struct xop *o = &f->o_commit;

	o->sk = f->sk;
	o->flags = (f->ok ? XCM_WHOLE : 0) | (c->fsync ? XCM_FSYNC : 0);
	o->off = f->data_end;
	o->msgs = &f->j.msgs;
	(void)xfile_op(f, c->dst, o, XOP_COMMIT, done_close);
}

/*
 * A download's source is closed before its file goes in place (OpenSSH's
 * do_download): a CLOSE refused, or a session that breaks before the
 * answer, leaves no new file under the final name.
 */
static void
done_sclose_first(struct xop *op)
{
	struct xfile *f = op->ctx;

	f->pending--;
	xfile_sclosed(f, op);
	file_commit(f);
}

void
xfile_sclosed(struct xfile *f, const struct xop *op)
{
	if (op->rc != 0 && f->c->download && f->ok) {
		strvec_pushf(&f->j.msgs, "close remote \"%s\": %s", f->spath,
		    xfile_fx(op));
		f->ok = 0;
	}
}

/* The sink's messages come out after the file job's own, in order. */
void
xfile_close(struct xfile *f, int sclose)
{
	struct xfile_ctx *c = f->c;

	f->phase = F_CLOSE;
	f->pending = 0;
	if (sclose) {
		f->o_sclose.h = &f->sh;
		if (xfile_op(f, c->src, &f->o_sclose, XOP_CLOSE,
		    c->download ? done_sclose_first : done_close) != 0 ||
		    c->download) {
			return;
		}
	}
	file_commit(f);
}

/* ---- opening ---- */

static void
done_sclose_only(struct xop *op)
{
	file_end(op->ctx);
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

/* The sink file: the endpoint's own atomic-write rules (ep.h). */
static void
file_open_dst(struct xfile *f)
{
	struct xfile_ctx *c = f->c;
	struct xop *o = &f->o_create;

	f->dst_sent = 1;
	o->path = f->dname;
	o->path2 = f->dpath;
	o->a = f->sa;
	o->flags = (f->fresh ? XCR_FRESH : 0) |
	    (f->inplace ? XCR_INPLACE : 0) | (c->preserve ? XCR_PRESERVE : 0);
	if (f->in != NULL) {
		/* A peer's name in a directory we hold open. */
		o->flags |= XCR_AT | XCR_NOFOLLOW;
		o->dirfd = f->in->fd;
	}
	o->msgs = &f->cmsgs;
	(void)xfile_op(f, c->dst, o, XOP_CREATE, done_open);
}

static void
file_opened(struct xfile *f)
{
	struct xfile_ctx *c = f->c;

	if (f->o_sopen.rc != 0) {
		strvec_pushf(&f->j.msgs, "remote open \"%s\": %s", f->spath,
		    xfile_fx(&f->o_sopen));
		f->ok = 0;
		/* The sink file made meanwhile goes again. */
		if (f->dst_sent && f->o_create.rc == 0) {
			f->sk = f->o_create.sk;
			xfile_close(f, 0);
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
	if (f->o_create.rc != 0) {
		strvec_pushv(&f->j.msgs, &f->cmsgs);
		f->ok = 0;
		f->pending = 0;
		f->o_sclose.h = &f->sh;
		(void)xfile_op(f, c->src, &f->o_sclose, XOP_CLOSE,
		    done_sclose_only);
		return;
	}
	f->sk = f->o_create.sk;
	xfile_start_data(f);
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

	if (f->phase == F_END) {
		return 0;
	}
	if (f->metered) {
		sftp_meter_end(f->c->meter);
		f->metered = 0;
	}
	if (f->c->download) {
		/* Named only where its partial stays (ep_local's rule). */
		if (code == SCP_E_INTR || code == SCP_E_CLOSED ||
		    code == SCP_E_TIMEOUT || code == SCP_E_SYS) {
			log_error("download \"%s\" to \"%s\" interrupted",
			    f->spath, f->dpath);
		}
	} else {
		log_error("copy \"%s\" to \"%s\" interrupted", f->spath,
		    f->dpath);
	}
	report_end(f->spath, f->dpath, f->size, f->total, REPORT_FAILED, NULL);
	return 1;
}

/* The sink file a stopped transfer left open, if any. */
static struct xsink *
file_live_sink(const struct xfile *f)
{
	if (f->o_commit.tag) {
		return f->o_commit.sk;
	}
	return f->o_create.tag ? f->o_create.sk : NULL;
}

static void
file_free(struct xjob *j)
{
	struct xfile *f = (struct xfile *)j;

	if (f->phase != F_END) {
		xep_sink_drop(f->c->dst, file_live_sink(f),
		    xjob_fatal_code(j));
	}
	xfile_unstarve(f);
	xfile_blks_free(f);
	strvec_clear(&f->cmsgs);
	xsdir_put(f->in);
	free(f->spath);
	free(f->dpath);
	free(f->dname);
	free(f);
}

static const struct xjob_ops file_ops = {
	.start = file_start,
	.head = file_head,
	.stopped = file_stopped,
	.free = file_free,
};

struct xsdir *
xsdir_new(int fd)
{
	struct xsdir *d = xcalloc(1, sizeof(*d));

	d->fd = fd;
	d->refs = 1;
	return d;
}

struct xsdir *
xsdir_get(struct xsdir *d)
{
	if (d != NULL) {
		d->refs++;
	}
	return d;
}

void
xsdir_put(struct xsdir *d)
{
	if (d == NULL || --d->refs > 0) {
		return;
	}
	if (d->fd != -1) {
		close(d->fd);
	}
	free(d);
}

int
xfile_add(struct xeng *g, struct xfile_ctx *c, const char *spath,
    const struct sftp_attr *sa, const char *dpath, int fresh)
{
	return xeng_add(g, xfile_new(c, spath, sa, dpath, fresh));
}

struct xjob *
xfile_new(struct xfile_ctx *c, const char *spath,
    const struct sftp_attr *sa, const char *dpath, int fresh)
{
	return xfile_new_in(c, spath, sa, NULL, dpath, dpath, fresh, 0);
}

struct xjob *
xfile_new_in(struct xfile_ctx *c, const char *spath,
    const struct sftp_attr *sa, struct xsdir *in, const char *name,
    const char *disp, int fresh, int in_dir)
{
	struct xfile *f = xcalloc(1, sizeof(*f));

	xjob_init(&f->j, &file_ops, 1);
	f->c = c;
	f->spath = xstrdup(spath);
	f->dpath = xstrdup(disp);
	f->dname = xstrdup(name);
	f->in = xsdir_get(in);
	f->in_dir = in_dir;
	f->sa = *sa;
	if (!(f->sa.flags & SSH2_FILEXFER_ATTR_PERMISSIONS)) {
		f->sa.flags |= SSH2_FILEXFER_ATTR_PERMISSIONS;
		f->sa.perm = 0666;
	}
	f->size = (f->sa.flags & SSH2_FILEXFER_ATTR_SIZE) ? f->sa.size : 0;
	/* Queued ahead of its data: the totals count it now. */
	report_plan(spath, f->size);
	strvec_init(&f->cmsgs);
	f->fresh = fresh;
	f->inplace = c->inplace;
	return &f->j;
}
