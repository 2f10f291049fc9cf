/*
 * Sink files on an SFTP endpoint (ep.h's XOP_CREATE and XOP_COMMIT):
 * OpenSSH's do_upload made atomic (docs/SAFETY.md).  CREATE sends the
 * STATs of the final name (its mode survives unless -p, PROTOCOL.md
 * section 4) with the OPEN of the temporary name in one round trip; a
 * symlink at the target is written through.  COMMIT sends truncation,
 * attributes, fsync and CLOSE together (requests on one handle are
 * handled in order, filexfer-02), then the rename, or cleans up and
 * keeps a partial cut clean below the first failed WRITE.  Messages are
 * OpenSSH's.
 */
#include "ep_int.h"

#include <stdlib.h>
#include <string.h>

#include "transfer.h"
#include "../transport/io.h"
#include "../util/err.h"
#include "../util/log.h"
#include "../util/xmalloc.h"

struct sftp_sink {
	struct xsink sk;
	struct xop *op;		/* the CREATE or COMMIT in progress */
	char *dpath, *tmp;
	struct sftp_attr sa, final;
	int flags, inplace, fresh, depth;
	int pending;		/* sub-operations unanswered */
	struct sftp_handle h;
	struct xop o_stat, o_lstat, o_open, o_close, o_remove, o_real;
	struct xop o_keep, o_trunc, o_attr, o_fsync, o_rename;
	int wfail;
	uint32_t wstatus;
	uint64_t fail_off;
	int ok, rc, keep;
};

static const char *
fx(const struct xop *op)
{
	return sftp_fx2txt(op->fx);
}

static int
sub(struct sftp_sink *k, struct xop *op, enum xop_kind kind,
    void (*done)(struct xop *))
{
	op->kind = kind;
	op->ctx = k;
	op->done = done;
	op->sk = NULL;
	op->tag = 1;		/* sent */
	k->pending++;
	return xep_start(k->sk.e, op);
}

static void
sink_free(struct sftp_sink *k)
{
	free(k->dpath);
	free(k->tmp);
	free(k->o_real.rpath);
	free(k);
}

const struct sftp_handle *
xsink_sftp_handle(const struct xsink *sk)
{
	return &((const struct sftp_sink *)sk)->h;
}

void
xsink_sftp_wrote(struct xsink *sk, const struct xop *op)
{
	struct sftp_sink *k = (struct sftp_sink *)sk;

	if (op->rc == 0) {
		return;
	}
	/* The partial is whole below the first failed WRITE. */
	if (!k->wfail || op->off < k->fail_off) {
		k->fail_off = op->off;
	}
	if (!k->wfail) {
		k->wfail = 1;
		k->wstatus = op->fx;
	}
}

void
xsink_sftp_drop(struct xsink *sk)
{
	sink_free((struct sftp_sink *)sk);
}

/* ---- CREATE ---- */

static void sink_open(struct sftp_sink *k);

static void
create_done(struct sftp_sink *k, int rc)
{
	struct xop *op = k->op;

	op->rc = rc;
	op->off = 0;
	if (rc != 0) {
		op->fx = k->o_open.fx;
		op->sk = NULL;
		sink_free(k);
	} else {
		op->sk = &k->sk;
	}
	op->done(op);
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
	struct sftp_sink *k = op->ctx;

	if (--k->pending > 0) {
		return;
	}
	free(k->tmp);
	k->tmp = NULL;
	if (k->o_real.rc != 0) {
		k->inplace = 1;
	} else {
		log_debug2("\"%s\" is a symlink to \"%s\"", k->dpath,
		    k->o_real.rpath);
		free(k->dpath);
		k->dpath = k->o_real.rpath;
		k->o_real.rpath = NULL;
		k->inplace = 0;
	}
	k->fresh = 0;
	k->depth++;
	sink_open(k);
}

static void
through_link(struct sftp_sink *k)
{
	k->pending = 0;
	k->o_close.h = &k->h;
	k->o_remove.path = k->tmp;
	k->o_real.path = k->dpath;
	if (sub(k, &k->o_close, XOP_CLOSE, done_link) != 0 ||
	    sub(k, &k->o_remove, XOP_REMOVE, done_link) != 0) {
		return;
	}
	(void)sub(k, &k->o_real, XOP_REALPATH, done_link);
}

static void
sink_opened(struct sftp_sink *k)
{
	int existed = 0, islink = 0, preserve = k->flags & XCR_PRESERVE;

	if (k->o_open.rc != 0) {
		xop_say(k->op, "dest open \"%s\": %s", k->dpath, fx(&k->o_open));
		create_done(k, SCP_E_PEER);
		return;
	}
	k->h = k->o_open.oh;
	if (k->o_stat.tag) {
		if (k->o_stat.rc == 0 && sftp_attr_is_reg(&k->o_stat.a)) {
			existed = 1;
			if (!preserve) {
				k->o_open.a.perm = k->o_stat.a.perm & 0777;
			}
		}
		islink = k->o_lstat.rc == 0 &&
		    sftp_attr_is_lnk(&k->o_lstat.a) && k->depth < 2;
	}
	if (islink) {
		through_link(k);
		return;
	}
	memset(&k->final, 0, sizeof(k->final));
	if (preserve) {
		k->final.flags = SSH2_FILEXFER_ATTR_PERMISSIONS;
		k->final.perm = k->sa.perm & 0777;
		if (k->sa.flags & SSH2_FILEXFER_ATTR_ACMODTIME) {
			k->final.flags |= SSH2_FILEXFER_ATTR_ACMODTIME;
			k->final.atime = k->sa.atime;
			k->final.mtime = k->sa.mtime;
		}
	} else if (existed) {
		/* The temporary file got the source's mode. */
		k->final.flags = SSH2_FILEXFER_ATTR_PERMISSIONS;
		k->final.perm = k->o_open.a.perm;
	}
	create_done(k, 0);
}

static void
done_open(struct xop *op)
{
	struct sftp_sink *k = op->ctx;

	if (--k->pending == 0) {
		sink_opened(k);
	}
}

static void
sink_open(struct sftp_sink *k)
{
	struct xop *o = &k->o_open;

	k->pending = 0;
	k->o_stat.tag = k->o_lstat.tag = 0;
	memset(&o->a, 0, sizeof(o->a));
	o->a.flags = SSH2_FILEXFER_ATTR_PERMISSIONS;
	o->a.perm = k->sa.perm & 0777;
	o->flags = SSH2_FXF_WRITE | SSH2_FXF_CREAT;
	if (!k->inplace) {
		k->tmp = sftp_upload_temp_name(k->dpath, &k->sa);
		o->flags |= SSH2_FXF_TRUNC;
	}
	if (k->tmp != NULL && !k->fresh) {
		k->o_stat.path = k->o_lstat.path = k->dpath;
		if (sub(k, &k->o_stat, XOP_STAT, done_open) != 0 ||
		    sub(k, &k->o_lstat, XOP_LSTAT, done_open) != 0) {
			return;
		}
	}
	o->path = k->tmp != NULL ? k->tmp : k->dpath;
	(void)sub(k, o, XOP_OPEN, done_open);
}

int
xsink_sftp_create(struct xep *e, struct xop *op)
{
	struct sftp_sink *k = xcalloc(1, sizeof(*k));

	k->sk.e = e;
	k->op = op;
	k->dpath = xstrdup(op->path);
	k->sa = op->a;
	if (!(k->sa.flags & SSH2_FILEXFER_ATTR_PERMISSIONS)) {
		k->sa.flags |= SSH2_FILEXFER_ATTR_PERMISSIONS;
		k->sa.perm = 0666;
	}
	k->flags = (int)op->flags;
	k->inplace = (op->flags & XCR_INPLACE) != 0;
	k->fresh = (op->flags & XCR_FRESH) != 0;
	/* The caller holds it from now on, so a transfer stopped before
	 * the answers can drop it (xep_sink_drop). */
	op->sk = &k->sk;
	sink_open(k);
	return e->s->dead ? SCP_E_FATAL : 0;
}

/* ---- COMMIT ---- */

static void
commit_done(struct sftp_sink *k)
{
	struct xop *op = k->op;

	op->rc = !k->ok || k->rc != 0 ? SCP_E_PEER : 0;
	op->sk = NULL;
	sink_free(k);
	op->done(op);
}

static void
done_remove(struct xop *op)
{
	commit_done(op->ctx);
}

static void
cleanup(struct sftp_sink *k)
{
	if (k->keep) {
		xop_say(k->op, "partial data kept in \"%s\" (--resume)", k->tmp);
	} else if (!k->ok && k->tmp != NULL && !io_cancelled()) {
		k->o_remove.path = k->tmp;
		(void)sub(k, &k->o_remove, XOP_REMOVE, done_remove);
		return;
	}
	commit_done(k);
}

static void
done_rename(struct xop *op)
{
	struct sftp_sink *k = op->ctx;

	if (op->rc == SCP_E_PEER) {
		xop_say(k->op, "rename \"%s\" to \"%s\": %s", k->tmp, k->dpath, fx(op));
		k->ok = 0;
	}
	cleanup(k);
}

/* Every close-time answer is in: their messages in request order. */
static void
closed(struct sftp_sink *k)
{
	if (k->o_keep.tag && k->o_keep.rc != 0) {
		k->keep = 0;
	}
	if (k->o_trunc.tag && k->o_trunc.rc != 0) {
		xop_say(k->op, "remote ftruncate \"%s\": %s", k->dpath, fx(&k->o_trunc));
		k->ok = 0;
	}
	if (k->o_attr.tag && k->o_attr.rc != 0) {
		xop_say(k->op, "remote fsetstat \"%s\": %s", k->dpath, fx(&k->o_attr));
		/* OpenSSH reports this but keeps the file. */
		k->rc = 1;
	}
	if (k->o_fsync.tag && k->o_fsync.rc != 0) {
		/* As OpenSSH's do_fsync(): reported, the file is kept. */
		xop_say(k->op, "remote fsync: %s", fx(&k->o_fsync));
		k->rc = 1;
	}
	if (k->o_close.rc != 0) {
		xop_say(k->op, "close remote \"%s\": %s", k->dpath, fx(&k->o_close));
		k->ok = 0;
	}
	if (k->tmp != NULL && k->ok) {
		k->o_rename.path = k->tmp;
		k->o_rename.path2 = k->dpath;
		(void)sub(k, &k->o_rename, XOP_RENAME, done_rename);
		return;
	}
	cleanup(k);
}

static void
done_close(struct xop *op)
{
	struct sftp_sink *k = op->ctx;

	if (--k->pending == 0) {
		closed(k);
	}
}

static int
size_op(struct sftp_sink *k, struct xop *o, uint64_t size)
{
	o->h = &k->h;
	memset(&o->a, 0, sizeof(o->a));
	o->a.flags = SSH2_FILEXFER_ATTR_SIZE;
	o->a.size = size;
	return sub(k, o, XOP_FSETSTAT, done_close);
}

int
xsink_sftp_commit(struct xep *e, struct xop *op)
{
	struct sftp_sink *k = (struct sftp_sink *)op->sk;

	k->op = op;
	k->pending = 0;
	k->ok = (op->flags & XCM_WHOLE) != 0;
	k->o_keep.tag = k->o_trunc.tag = k->o_attr.tag = k->o_fsync.tag = 0;
	if (k->wfail) {
		xop_say(k->op, "write remote \"%s\": %s", k->dpath,
		    sftp_fx2txt(k->wstatus));
		k->ok = 0;
		/* A full disk: keep what was written, cut below the first
		 * failed WRITE so it has no hole, for --resume. */
		if (k->tmp != NULL) {
			k->keep = 1;
			if (size_op(k, &k->o_keep, k->fail_off) != 0) {
				return SCP_E_FATAL;
			}
		}
	}
	/* In place: cut what an older, longer file left behind. */
	if (k->ok && k->tmp == NULL &&
	    size_op(k, &k->o_trunc, op->off) != 0) {
		return SCP_E_FATAL;
	}
	if (k->ok && k->final.flags != 0) {
		k->o_attr.h = &k->h;
		k->o_attr.a = k->final;
		if (sub(k, &k->o_attr, XOP_FSETSTAT, done_close) != 0) {
			return SCP_E_FATAL;
		}
	}
	if (k->ok && (op->flags & XCM_FSYNC)) {
		if (xep_can_fsync(e)) {
			k->o_fsync.h = &k->h;
			if (sub(k, &k->o_fsync, XOP_FSYNC, done_close) != 0) {
				return SCP_E_FATAL;
			}
		} else if (!e->s->fsync_warned) {
			log_debug("server does not support the "
			    "fsync@openssh.com extension");
			e->s->fsync_warned = 1;
		}
	}
	k->o_close.h = &k->h;
	return sub(k, &k->o_close, XOP_CLOSE, done_close) != 0 ?
	    SCP_E_FATAL : 0;
}
