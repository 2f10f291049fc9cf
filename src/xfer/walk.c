/*
 * The walk of a tree as engine jobs (walk.h).  Messages are those of
 * the sequential walks: OpenSSH's download_dir for a download, its
 * crossload_dir for the -3 relay.
 */
#include "walk.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../fs/name.h"
#include "transfer.h"
#include "../util/err.h"
#include "../util/log.h"
#include "../util/xmalloc.h"

/* The directories above a job, shared by the jobs below them. */
struct anc {
	struct anc *up;
	char *path;
	int refs;
};

static struct anc *
anc_new(struct anc *up, const char *path)
{
	struct anc *a = xcalloc(1, sizeof(*a));

	a->up = up;
	if (up != NULL) {
		up->refs++;
	}
	a->path = xstrdup(path);
	a->refs = 1;
	return a;
}

static void
anc_put(struct anc *a)
{
	struct anc *up;

	while (a != NULL && --a->refs == 0) {
		up = a->up;
		free(a->path);
		free(a);
		a = up;
	}
}

static struct xjob *
file_job(struct xwalk *w, const char *spath, const struct sftp_attr *a,
    struct xsdir *in, const char *name, const char *disp, int fresh,
    int in_dir)
{
	if (w->file != NULL) {
		return w->file(w, spath, a, in, name, disp, fresh, in_dir);
	}
	return xfile_new_in(w->fc, spath, a, in, name, disp, fresh, in_dir);
}

/* ---- a directory's attributes, once everything inside retired ---- */

struct dirend {
	struct xjob j;
	struct xwalk *w;
	char *path;		/* the sink path, or how messages name it */
	struct xsdir *sd;	/* a local sink's directory */
	struct xop op;
	int sent;
};

static void
dirend_done(struct xop *op)
{
	struct dirend *d = op->ctx;

	xjob_finish(&d->j, op->rc != 0);
}

static int
dirend_start(struct xjob *j)
{
	(void)j;
	return 0;
}

/* Sent only at the head: a mode without write permission must not come
 * before the files inside are renamed into place. */
static void
dirend_head(struct xjob *j)
{
	struct dirend *d = (struct dirend *)j;

	if (d->sent) {
		return;
	}
	d->sent = 1;
	d->op.kind = XOP_SETSTAT;
	if (d->sd != NULL) {
		d->op.path = NULL;
		d->op.path2 = d->path;
		d->op.flags |= XCR_AT;
		d->op.dirfd = d->sd->fd;
	} else {
		d->op.path = d->path;
	}
	d->op.msgs = &j->msgs;
	d->op.ctx = d;
	d->op.done = dirend_done;
	(void)xjob_start_op(j, d->w->dst, &d->op);
}

static void
dirend_free(struct xjob *j)
{
	struct dirend *d = (struct dirend *)j;

	xsdir_put(d->sd);
	free(d->path);
	free(d);
}

static const struct xjob_ops dirend_ops = {
	.start = dirend_start,
	.head = dirend_head,
	.free = dirend_free,
};

static struct xjob *
dirend_new(struct xwalk *w, const char *path, struct xsdir *sd,
    const struct sftp_attr *a, uint32_t flags)
{
	struct dirend *d = xcalloc(1, sizeof(*d));

	xjob_init(&d->j, &dirend_ops, 0);
	d->w = w;
	d->path = xstrdup(path);
	d->sd = xsdir_get(sd);
	d->op.a = *a;
	d->op.flags = flags;
	return &d->j;
}

/* ---- directories ---- */

struct wdir {
	struct xjob j;
	struct xwalk *w;
	struct anc *anc;	/* this directory and those above */
	char *spath, *dname, *disp;
	struct xsdir *in;	/* where it is made (a local sink) */
	struct xsdir *sd;	/* itself, once made (a local sink) */
	struct sftp_attr da;
	int depth;		/* directories above it */
	int pending;
	int made;		/* -1 failed, 0 there, 1 made by us */
	int pre;		/* 1: open on the source (pre_h), -1 failed */
	struct sftp_handle pre_h;
	struct xop o_dir, o_list, o_close;
	struct strvec dmsgs;	/* the XOP_DIR's */
	struct sftp_listing ls;
};

static struct xjob *wdir_new(struct xwalk *w, struct anc *up,
    const char *spath, const struct sftp_attr *da, struct xsdir *in,
    const char *dname, const char *disp, int depth);

/* ---- a symlink in a listing: followed ---- */

struct wlink {
	struct xjob j;
	struct xwalk *w;
	struct anc *anc;	/* the directory it is in and those above */
	char *spath, *dname, *disp;
	struct xsdir *in;
	int depth, fresh;
	struct xop o_stat, o_real;
};

static void
wlink_real(struct xop *op)
{
	struct wlink *l = op->ctx;
	struct anc *a;

	if (op->rc != 0) {
		if (l->w->download) {
			strvec_pushf(&l->j.msgs, "download \"%s\": path "
			    "canonicalization failed", l->spath);
		} else {
			strvec_pushf(&l->j.msgs, "remote realpath \"%s\": %s",
			    l->spath, sftp_fx2txt(op->fx));
		}
		xjob_finish(&l->j, 1);
		return;
	}
	for (a = l->anc; a != NULL; a = a->up) {
		if (strcmp(a->path, op->rpath) == 0) {
			strvec_pushf(&l->j.msgs, "download \"%s\": directory "
			    "loop, skipped", l->spath);
			xjob_finish(&l->j, 0);
			return;
		}
	}
	xeng_insert(l->w->g, &l->j, wdir_new(l->w, l->anc, op->rpath,
	    &l->o_stat.a, l->in, l->dname, l->disp, l->depth));
	xjob_finish(&l->j, 0);
}

static void
wlink_stat(struct xop *op)
{
	struct wlink *l = op->ctx;
	struct sftp_attr *a = &op->a;

	if (op->rc != 0) {
		strvec_pushf(&l->j.msgs, "stat remote: %s",
		    sftp_fx2txt(op->fx));
		if (l->w->download) {
			strvec_pushf(&l->j.msgs, "Download of file %s to %s "
			    "failed", l->spath, l->disp);
		} else {
			strvec_pushf(&l->j.msgs, "Download of file %s failed",
			    l->spath);
		}
		xjob_finish(&l->j, 1);
		return;
	}
	if (sftp_attr_is_dir(a)) {
		l->o_real.kind = XOP_REALPATH;
		l->o_real.path = l->spath;
		l->o_real.ctx = l;
		l->o_real.done = wlink_real;
		(void)xjob_start_op(&l->j, l->w->src, &l->o_real);
		return;
	}
	if (sftp_attr_is_reg(a)) {
		xeng_insert(l->w->g, &l->j, file_job(l->w, l->spath, a, l->in,
		    l->dname, l->disp, l->fresh, 1));
	} else {
		strvec_pushf(&l->j.msgs, "download \"%s\": not a regular "
		    "file", l->spath);
	}
	xjob_finish(&l->j, 0);
}

static int
wlink_start(struct xjob *j)
{
	struct wlink *l = (struct wlink *)j;

	l->o_stat.kind = XOP_STAT;
	l->o_stat.path = l->spath;
	l->o_stat.ctx = l;
	l->o_stat.done = wlink_stat;
	return xjob_start_op(j, l->w->src, &l->o_stat);
}

static void
wlink_free(struct xjob *j)
{
	struct wlink *l = (struct wlink *)j;

	anc_put(l->anc);
	xsdir_put(l->in);
	free(l->o_real.rpath);
	free(l->spath);
	free(l->dname);
	free(l->disp);
	free(l);
}

static const struct xjob_ops wlink_ops = {
	.start = wlink_start,
	.free = wlink_free,
};

static struct xjob *
wlink_new(struct wdir *d, const char *spath, const char *dname,
    const char *disp)
{
	struct wlink *l = xcalloc(1, sizeof(*l));

	xjob_init(&l->j, &wlink_ops, 0);
	l->w = d->w;
	l->anc = d->anc;
	d->anc->refs++;
	l->in = xsdir_get(d->sd);
	l->spath = xstrdup(spath);
	l->dname = xstrdup(dname);
	l->disp = xstrdup(disp);
	l->depth = d->depth + 1;
	l->fresh = d->made == 1;
	return &l->j;
}

/* ---- the directory job ---- */

/* The job for entry `e` of `d`, or NULL (not copied, nothing said). */
static struct xjob *
entry_job(struct wdir *d, const struct sftp_dirent *e, struct xjob *after)
{
	struct xwalk *w = d->w;
	char *sub, *disp;
	const char *dname;
	struct xjob *j;

	if (!name_is_safe(e->name)) {
		return NULL;
	}
	sub = sftp_path_append(d->spath, e->name);
	disp = sftp_path_append(d->disp, e->name);
	/* In a local directory we hold open, its name; else its path. */
	dname = d->sd != NULL ? e->name : disp;
	if (sftp_attr_is_lnk(&e->a)) {
		j = wlink_new(d, sub, dname, disp);
	} else if (sftp_attr_is_dir(&e->a)) {
		j = wdir_new(w, d->anc, sub, &e->a, d->sd, dname, disp,
		    d->depth + 1);
	} else if (sftp_attr_is_reg(&e->a)) {
		j = file_job(w, sub, &e->a, d->sd, dname, disp, d->made == 1,
		    1);
	} else {
		j = xeng_note_after(w->g, after, 0, "download \"%s\": not a "
		    "regular file", sub);
		free(sub);
		free(disp);
		return j;
	}
	free(sub);
	free(disp);
	xeng_insert(w->g, after, j);
	return j;
}

/*
 * The directory's attributes at the end: -p's, or the mode it was made
 * without (it was made writable for its files), less the umask where
 * the sink is local.  *flags gets the SETSTAT's flags.
 */
static void
wdir_attrs(struct wdir *d, struct sftp_attr *a, uint32_t *flags)
{
	uint32_t perm = (d->da.flags & SSH2_FILEXFER_ATTR_PERMISSIONS) ?
	    d->da.perm : 0777;

	memset(a, 0, sizeof(*a));
	*flags = 0;
	if (d->w->preserve) {
		a->flags = SSH2_FILEXFER_ATTR_PERMISSIONS;
		a->perm = perm & 07777;
		if (d->da.flags & SSH2_FILEXFER_ATTR_ACMODTIME) {
			a->flags |= SSH2_FILEXFER_ATTR_ACMODTIME;
			a->atime = d->da.atime;
			a->mtime = d->da.mtime;
		}
	} else if (d->made == 1 && (perm & 0700) != 0700) {
		a->flags = SSH2_FILEXFER_ATTR_PERMISSIONS;
		a->perm = perm & (d->sd != NULL ? 01777 : 0777);
		*flags = XSS_UMASK;
	}
}

static int
cmp_dirent(const void *a, const void *b)
{
	return strcmp(((const struct sftp_dirent *)a)->name,
	    ((const struct sftp_dirent *)b)->name);
}

/* Both ends answered: the entries go in after the directory. */
static void
wdir_ready(struct wdir *d)
{
	struct xjob *after = &d->j;
	struct sftp_attr a;
	struct xjob *k;
	uint32_t flags;
	size_t i;

	if (d->made < 0) {
		/* Its listing's words are moot: nothing of it is copied. */
		strvec_clear(&d->j.msgs);
		strvec_pushv(&d->j.msgs, &d->dmsgs);
		xjob_finish(&d->j, 1);
		return;
	}
	if (d->pre < 0 || d->o_list.rc != 0) {
		strvec_pushf(&d->j.msgs, "remote readdir \"%s\" failed",
		    d->spath);
		xjob_finish(&d->j, 1);
		return;
	}
	if (d->w->download && d->ls.n > 1) {
		qsort(d->ls.ents, d->ls.n, sizeof(*d->ls.ents), cmp_dirent);
	}
	for (i = 0; i < d->ls.n; i++) {
		if ((k = entry_job(d, &d->ls.ents[i], after)) != NULL) {
			after = k;
		}
	}
	wdir_attrs(d, &a, &flags);
	if (a.flags != 0) {
		xeng_insert(d->w->g, after, dirend_new(d->w, d->sd != NULL ?
		    d->disp : d->dname, d->sd, &a, flags));
	}
	/* Dropped suspect names (said in the listing's messages): the
	 * copy is incomplete. */
	xjob_finish(&d->j, d->ls.suspect > 0);
}

static void
wdir_done(struct xop *op)
{
	struct wdir *d = op->ctx;

	if (--d->pending == 0) {
		wdir_ready(d);
	}
}

static void
wdir_made(struct xop *op)
{
	struct wdir *d = op->ctx;

	d->made = op->rc != 0 ? -1 : op->made;
	if (op->rc == 0 && op->fd != -1) {
		d->sd = xsdir_new(op->fd);
	}
	wdir_done(op);
}

/* A directory that fails before its listing: the handle its early
 * OPENDIR gave goes first (errors ignored, as sftp_do_readdir's). */
static void
wdir_closed(struct xop *op)
{
	struct wdir *d = op->ctx;

	xjob_finish(&d->j, 1);
}

static int
wdir_drop(struct wdir *d)
{
	if (d->pre != 1) {
		xjob_finish(&d->j, 1);
		return 0;
	}
	d->pre = 0;
	d->o_close.kind = XOP_CLOSE;
	d->o_close.h = &d->pre_h;
	d->o_close.ctx = d;
	d->o_close.done = wdir_closed;
	return xjob_start_op(&d->j, d->w->src, &d->o_close);
}

static int
wdir_start(struct xjob *j)
{
	struct wdir *d = (struct wdir *)j;
	struct xwalk *w = d->w;
	int r;

	if (d->depth >= SFTP_MAX_DEPTH || !sftp_attr_is_dir(&d->da)) {
		if (d->depth >= SFTP_MAX_DEPTH) {
			strvec_pushf(&j->msgs, "Maximum directory depth "
			    "exceeded: %d levels", d->depth);
		} else {
			strvec_pushf(&j->msgs, "\"%s\" is not a directory",
			    d->spath);
		}
		return wdir_drop(d);
	}
	d->pending = 2;
	d->o_dir.kind = XOP_DIR;
	d->o_dir.path = d->dname;
	d->o_dir.path2 = d->disp;
	d->o_dir.a = d->da;
	d->o_dir.msgs = &d->dmsgs;
	if (d->in != NULL) {
		d->o_dir.flags = XCR_AT | XCR_NOFOLLOW;
		d->o_dir.dirfd = d->in->fd;
	}
	d->o_dir.ctx = d;
	d->o_dir.done = wdir_made;
	if ((r = xjob_start_op(j, w->dst, &d->o_dir)) != 0) {
		return r;
	}
	if (d->pre < 0) {
		/* Its OPENDIR went early and failed. */
		d->pending--;
		return 0;
	}
	d->o_list.kind = XOP_LIST;
	d->o_list.path = d->spath;
	d->o_list.h = d->pre == 1 ? &d->pre_h : NULL;
	d->pre = 0;
	d->o_list.ls = &d->ls;
	d->o_list.msgs = &j->msgs;
	d->o_list.ctx = d;
	d->o_list.done = wdir_done;
	return xjob_start_op(j, w->src, &d->o_list);
}

static void
wdir_free(struct xjob *j)
{
	struct wdir *d = (struct wdir *)j;

	anc_put(d->anc);
	xsdir_put(d->in);
	xsdir_put(d->sd);
	strvec_clear(&d->dmsgs);
	sftp_dirents_free(d->ls.ents, d->ls.n);
	free(d->spath);
	free(d->dname);
	free(d->disp);
	free(d);
}

static const struct xjob_ops wdir_ops = {
	.start = wdir_start,
	.free = wdir_free,
};

static struct xjob *
wdir_new(struct xwalk *w, struct anc *up, const char *spath,
    const struct sftp_attr *da, struct xsdir *in, const char *dname,
    const char *disp, int depth)
{
	struct wdir *d = xcalloc(1, sizeof(*d));

	/* A listing holds a handle: it counts as a file in flight. */
	xjob_init(&d->j, &wdir_ops, 1);
	d->w = w;
	d->anc = anc_new(up, spath);
	d->spath = xstrdup(spath);
	d->dname = xstrdup(dname);
	d->disp = xstrdup(disp);
	d->in = xsdir_get(in);
	d->da = *da;
	d->depth = depth;
	strvec_init(&d->dmsgs);
	return &d->j;
}

struct xjob *
xwalk_dir(struct xwalk *w, const char *spath, const struct sftp_attr *da,
    struct xsdir *in, const char *name, const char *disp,
    const struct sftp_handle *pre, int pre_failed)
{
	struct wdir *d = (struct wdir *)wdir_new(w, NULL, spath, da, in,
	    name, disp, 0);

	if (pre != NULL) {
		d->pre = 1;
		d->pre_h = *pre;
	} else if (pre_failed) {
		d->pre = -1;
	}
	return &d->j;
}
