/*
 * The walk of the -3 relay as engine jobs (relay_int.h).  A directory
 * job lists the source directory (XOP_LIST) while the sink's STAT (and,
 * if need be, MKDIR) is answered, then inserts a job for each entry
 * right after itself, so the whole tree is in walk order and listings
 * of many directories are in flight at once; a symlink in a listing is
 * followed by a job of its own (STAT, and for a directory REALPATH and
 * the loop check against the directories above); a directory's
 * attributes are set at the head, after everything inside it retired.
 * Messages are those of the sequential walk (OpenSSH's crossload).
 */
#include "relay_int.h"

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

/* ---- a directory's attributes, once everything inside retired ---- */

struct dirend {
	struct xjob j;
	struct relay *rl;
	char *path;
	struct xop op;
	int sent;
};

static void
dirend_done(struct xop *op)
{
	struct dirend *d = op->ctx;

	if (op->rc != 0) {
		strvec_pushf(&d->j.msgs, "remote setstat \"%s\": %s", d->path,
		    sftp_fx2txt(op->fx));
	}
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
	d->op.path = d->path;
	d->op.ctx = d;
	d->op.done = dirend_done;
	(void)xjob_start_op(j, d->rl->eto, &d->op);
}

static void
dirend_free(struct xjob *j)
{
	struct dirend *d = (struct dirend *)j;

	free(d->path);
	free(d);
}

static const struct xjob_ops dirend_ops = {
	.start = dirend_start,
	.head = dirend_head,
	.free = dirend_free,
};

static struct xjob *
dirend_new(struct relay *rl, const char *path, const struct sftp_attr *a)
{
	struct dirend *d = xcalloc(1, sizeof(*d));

	xjob_init(&d->j, &dirend_ops, 0);
	d->rl = rl;
	d->path = xstrdup(path);
	d->op.a = *a;
	return &d->j;
}

/* ---- directories ---- */

struct rdir {
	struct xjob j;
	struct relay *rl;
	struct anc *anc;	/* this directory and those above */
	char *spath, *dpath;
	struct sftp_attr da;
	int depth;		/* directories above it */
	int pending;
	int made;		/* -1 failed, 0 there, 1 made by us */
	struct xop o_stat, o_mkdir, o_list;
	struct sftp_listing ls;
};

static struct xjob *rdir_new(struct relay *rl, struct anc *up,
    const char *spath, const struct sftp_attr *da, const char *dpath,
    int depth);

/* ---- a symlink in a listing: followed ---- */

struct rlink {
	struct xjob j;
	struct relay *rl;
	struct anc *anc;	/* the directory it is in and those above */
	char *spath, *dpath;
	int depth, fresh;
	struct xop o_stat, o_real;
};

static void
rlink_real(struct xop *op)
{
	struct rlink *l = op->ctx;
	struct anc *a;

	if (op->rc != 0) {
		strvec_pushf(&l->j.msgs, "remote realpath \"%s\": %s",
		    l->spath, sftp_fx2txt(op->fx));
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
	xeng_insert(l->rl->g, &l->j, rdir_new(l->rl, l->anc, op->rpath,
	    &l->o_stat.a, l->dpath, l->depth));
	xjob_finish(&l->j, 0);
}

static void
rlink_stat(struct xop *op)
{
	struct rlink *l = op->ctx;
	struct sftp_attr *a = &op->a;

	if (op->rc != 0) {
		strvec_pushf(&l->j.msgs, "stat remote: %s",
		    sftp_fx2txt(op->fx));
		strvec_pushf(&l->j.msgs, "Download of file %s failed",
		    l->spath);
		xjob_finish(&l->j, 1);
		return;
	}
	if (sftp_attr_is_dir(a)) {
		l->o_real.kind = XOP_REALPATH;
		l->o_real.path = l->spath;
		l->o_real.ctx = l;
		l->o_real.done = rlink_real;
		(void)xjob_start_op(&l->j, l->rl->efrom, &l->o_real);
		return;
	}
	if (sftp_attr_is_reg(a)) {
		xeng_insert(l->rl->g, &l->j, xfile_new(&l->rl->fc, l->spath,
		    a, l->dpath, l->fresh));
	} else {
		strvec_pushf(&l->j.msgs, "download \"%s\": not a regular "
		    "file", l->spath);
	}
	xjob_finish(&l->j, 0);
}

static int
rlink_start(struct xjob *j)
{
	struct rlink *l = (struct rlink *)j;

	l->o_stat.kind = XOP_STAT;
	l->o_stat.path = l->spath;
	l->o_stat.ctx = l;
	l->o_stat.done = rlink_stat;
	return xjob_start_op(j, l->rl->efrom, &l->o_stat);
}

static void
rlink_free(struct xjob *j)
{
	struct rlink *l = (struct rlink *)j;

	anc_put(l->anc);
	free(l->o_real.rpath);
	free(l->spath);
	free(l->dpath);
	free(l);
}

static const struct xjob_ops rlink_ops = {
	.start = rlink_start,
	.free = rlink_free,
};

static struct xjob *
rlink_new(struct rdir *d, const char *spath, const char *dpath)
{
	struct rlink *l = xcalloc(1, sizeof(*l));

	xjob_init(&l->j, &rlink_ops, 0);
	l->rl = d->rl;
	l->anc = d->anc;
	d->anc->refs++;
	l->spath = xstrdup(spath);
	l->dpath = xstrdup(dpath);
	l->depth = d->depth + 1;
	l->fresh = d->made == 1;
	return &l->j;
}

/* ---- the directory job ---- */

/* The job for entry `e` of `d`, or NULL (not copied, nothing said). */
static struct xjob *
entry_job(struct rdir *d, const struct sftp_dirent *e, struct xjob *after)
{
	struct relay *rl = d->rl;
	char *sub, *dsub;
	struct xjob *j;

	if (!name_is_safe(e->name)) {
		return NULL;
	}
	sub = sftp_path_append(d->spath, e->name);
	dsub = sftp_path_append(d->dpath, e->name);
	if (sftp_attr_is_lnk(&e->a)) {
		j = rlink_new(d, sub, dsub);
	} else if (sftp_attr_is_dir(&e->a)) {
		j = rdir_new(rl, d->anc, sub, &e->a, dsub, d->depth + 1);
	} else if (sftp_attr_is_reg(&e->a)) {
		j = xfile_new(&rl->fc, sub, &e->a, dsub, d->made == 1);
	} else {
		j = xeng_note_after(rl->g, after, 0, "download \"%s\": not a "
		    "regular file", sub);
		free(sub);
		free(dsub);
		return j;
	}
	free(sub);
	free(dsub);
	xeng_insert(rl->g, after, j);
	return j;
}

/* The directory's attributes at the end: -p's, or the mode it was made
 * without (it was made writable for its files). */
static void
rdir_attrs(struct rdir *d, struct sftp_attr *a)
{
	memset(a, 0, sizeof(*a));
	if (d->rl->to->o->preserve) {
		a->flags = SSH2_FILEXFER_ATTR_PERMISSIONS;
		a->perm = d->da.perm & 07777;
		if (d->da.flags & SSH2_FILEXFER_ATTR_ACMODTIME) {
			a->flags |= SSH2_FILEXFER_ATTR_ACMODTIME;
			a->atime = d->da.atime;
			a->mtime = d->da.mtime;
		}
	} else if (d->made == 1 && (d->da.perm & 0700) != 0700) {
		a->flags = SSH2_FILEXFER_ATTR_PERMISSIONS;
		a->perm = d->da.perm & 0777;
	}
}

/* Both ends answered: the entries go in after the directory. */
static void
rdir_ready(struct rdir *d)
{
	struct xjob *after = &d->j;
	struct sftp_attr a;
	struct xjob *k;
	size_t i;

	if (d->made < 0) {
		strvec_pushf(&d->j.msgs, "remote mkdir \"%s\": %s", d->dpath,
		    sftp_fx2txt(d->o_mkdir.fx));
		xjob_finish(&d->j, 1);
		return;
	}
	if (d->o_list.rc != 0) {
		strvec_pushf(&d->j.msgs, "remote readdir \"%s\" failed",
		    d->spath);
		xjob_finish(&d->j, 1);
		return;
	}
	for (i = 0; i < d->ls.n; i++) {
		if ((k = entry_job(d, &d->ls.ents[i], after)) != NULL) {
			after = k;
		}
	}
	rdir_attrs(d, &a);
	if (a.flags != 0) {
		xeng_insert(d->rl->g, after, dirend_new(d->rl, d->dpath, &a));
	}
	/* Dropped suspect names (said in the listing's messages): the
	 * copy is incomplete. */
	xjob_finish(&d->j, d->ls.suspect > 0);
}

static void
rdir_done(struct xop *op)
{
	struct rdir *d = op->ctx;

	if (--d->pending == 0) {
		rdir_ready(d);
	}
}

static void rdir_mkdir(struct xop *op);

static void
rdir_stat(struct xop *op)
{
	struct rdir *d = op->ctx;

	if (op->rc == 0 && sftp_attr_is_dir(&op->a)) {
		d->made = 0;
		rdir_done(op);
		return;
	}
	memset(&d->o_mkdir.a, 0, sizeof(d->o_mkdir.a));
	d->o_mkdir.a.flags = SSH2_FILEXFER_ATTR_PERMISSIONS;
	d->o_mkdir.a.perm = (d->da.perm & 0777) | 0700;
	d->o_mkdir.kind = XOP_MKDIR;
	d->o_mkdir.path = d->dpath;
	d->o_mkdir.ctx = d;
	d->o_mkdir.done = rdir_mkdir;
	(void)xjob_start_op(&d->j, d->rl->eto, &d->o_mkdir);
}

static void
rdir_mkdir(struct xop *op)
{
	struct rdir *d = op->ctx;

	d->made = op->rc == 0 ? 1 : -1;
	rdir_done(op);
}

static int
rdir_start(struct xjob *j)
{
	struct rdir *d = (struct rdir *)j;
	struct relay *rl = d->rl;
	int r;

	if (d->depth >= SFTP_MAX_DEPTH) {
		strvec_pushf(&j->msgs, "Maximum directory depth exceeded: %d "
		    "levels", d->depth);
		xjob_finish(j, 1);
		return 0;
	}
	d->pending = 2;
	d->o_stat.kind = XOP_STAT;
	d->o_stat.path = d->dpath;
	d->o_stat.ctx = d;
	d->o_stat.done = rdir_stat;
	if ((r = xjob_start_op(j, rl->eto, &d->o_stat)) != 0) {
		return r;
	}
	d->o_list.kind = XOP_LIST;
	d->o_list.path = d->spath;
	d->o_list.ls = &d->ls;
	d->o_list.msgs = &j->msgs;
	d->o_list.ctx = d;
	d->o_list.done = rdir_done;
	return xjob_start_op(j, rl->efrom, &d->o_list);
}

static void
rdir_free(struct xjob *j)
{
	struct rdir *d = (struct rdir *)j;

	anc_put(d->anc);
	sftp_dirents_free(d->ls.ents, d->ls.n);
	free(d->spath);
	free(d->dpath);
	free(d);
}

static const struct xjob_ops rdir_ops = {
	.start = rdir_start,
	.free = rdir_free,
};

static struct xjob *
rdir_new(struct relay *rl, struct anc *up, const char *spath,
    const struct sftp_attr *da, const char *dpath, int depth)
{
	struct rdir *d = xcalloc(1, sizeof(*d));

	/* A listing holds a handle: it counts as a file in flight. */
	xjob_init(&d->j, &rdir_ops, 1);
	d->rl = rl;
	d->anc = anc_new(up, spath);
	d->spath = xstrdup(spath);
	d->dpath = xstrdup(dpath);
	d->da = *da;
	d->depth = depth;
	return &d->j;
}

int
relay_dir_add(struct relay *rl, const char *spath,
    const struct sftp_attr *da, const char *dpath)
{
	return xeng_add(rl->g, rdir_new(rl, NULL, spath, da, dpath, 0));
}
