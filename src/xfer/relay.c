/*
 * The remote-to-remote relay (-3 in SFTP mode, xfer.h) on the engine:
 * the walk of the source (globs, -r trees, symlinks to directories,
 * depth and loops) runs here and queues a file job (file.c) for every
 * regular file, a note for every message and a directory end for every
 * directory's attributes, so that many files are in flight and every
 * word comes out in walk order.  Listings and the sink's MKDIRs are
 * still one request at a time; the files are not.
 */
#include "xfer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../fs/name.h"
#include "../proto/sftp/glob.h"
#include "transfer.h"
#include "../transport/io.h"
#include "../util/err.h"
#include "../util/log.h"
#include "../util/report.h"
#include "../util/strvec.h"
#include "../util/xmalloc.h"
#include "engine.h"
#include "file.h"

/* Files in flight (two handles each) and jobs queued. */
#define RELAY_MAX_FILES		64
#define RELAY_MAX_JOBS		1024

struct relay {
	struct sftp_session *from, *to;
	struct xeng *g;
	struct xfile_ctx fc;
	struct xep *efrom, *eto;
	char *stack[SFTP_MAX_DEPTH + 2];	/* directories walked into */
	int depth;
	int errs;		/* errors with no message of their own */
};

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

static int
dirend_add(struct relay *rl, const char *path, const struct sftp_attr *a)
{
	struct dirend *d = xcalloc(1, sizeof(*d));

	xjob_init(&d->j, &dirend_ops, 0);
	d->rl = rl;
	d->path = xstrdup(path);
	d->op.a = *a;
	return xeng_add(rl->g, &d->j);
}

/* ---- the walk ---- */

/* A fatal code from either session or the interrupt, else 0. */
static int
dead_code(const struct relay *rl)
{
	if (io_cancelled()) {
		return SCP_E_INTR;
	}
	return rl->from->dead || rl->to->dead ? SCP_E_CLOSED : 0;
}

static int relay_dir(struct relay *rl, const char *spath,
    const struct sftp_attr *da, const char *dpath);

/* A source file given by name (an operand): its STAT, then its job. */
static int
relay_file(struct relay *rl, const char *spath, const struct sftp_attr *a,
    const char *dpath, int fresh)
{
	struct sftp_attr st;
	int r;

	if (a == NULL) {
		if ((r = sftp_do_stat(rl->from, spath, 0, &st)) != 0) {
			if (r != SCP_E_PEER) {
				return r;
			}
			return xeng_note(rl->g, 1, "stat remote: %s",
			    sftp_fx2txt(rl->from->last_status));
		}
		a = &st;
	}
	if ((a->flags & SSH2_FILEXFER_ATTR_PERMISSIONS) && !S_ISREG(a->perm)) {
		return xeng_note(rl->g, 1, "download \"%s\": not a regular "
		    "file", spath);
	}
	report_plan(spath, (a->flags & SSH2_FILEXFER_ATTR_SIZE) ? a->size : 0);
	return xfile_add(rl->g, &rl->fc, spath, a, dpath, fresh);
}

static int
relay_entry(struct relay *rl, const char *sdir, const struct sftp_dirent *e,
    const char *ddir, int fresh)
{
	struct sftp_attr a = e->a;
	char *sub, *dsub, *canon = NULL;
	int r = 0, k;

	sub = sftp_path_append(sdir, e->name);
	dsub = sftp_path_append(ddir, e->name);
	if (sftp_attr_is_lnk(&a)) {
		if ((r = sftp_do_stat(rl->from, sub, 0, &a)) != 0) {
			if (r == SCP_E_PEER) {
				r = xeng_note(rl->g, 0, "stat remote: %s",
				    sftp_fx2txt(rl->from->last_status));
				if (r == 0) {
					r = xeng_note(rl->g, 1, "Download of "
					    "file %s failed", sub);
				}
			}
			goto out;
		}
		if (sftp_attr_is_dir(&a)) {
			if ((r = sftp_do_realpath(rl->from, sub, &canon)) !=
			    0) {
				r = r == SCP_E_PEER ? xeng_note(rl->g, 1,
				    "remote realpath \"%s\": %s", sub,
				    sftp_fx2txt(rl->from->last_status)) : r;
				goto out;
			}
			for (k = 0; k < rl->depth; k++) {
				if (strcmp(rl->stack[k], canon) == 0) {
					r = xeng_note(rl->g, 0, "download "
					    "\"%s\": directory loop, skipped",
					    sub);
					goto out;
				}
			}
			free(sub);
			sub = canon;
			canon = NULL;
		}
	}
	if (sftp_attr_is_dir(&a)) {
		r = relay_dir(rl, sub, &a, dsub);
	} else if (sftp_attr_is_reg(&a)) {
		r = relay_file(rl, sub, &a, dsub, fresh);
	} else {
		r = xeng_note(rl->g, 0, "download \"%s\": not a regular file",
		    sub);
	}
out:
	free(canon);
	free(sub);
	free(dsub);
	return r;
}

/* The sink's directory: made unless it is there.  1 made, 0 there,
 * 2 failed (noted), <0 fatal. */
static int
relay_mkdir(struct relay *rl, const char *dpath, const struct sftp_attr *da)
{
	struct sftp_attr a, cur;
	int r;

	r = sftp_do_stat(rl->to, dpath, 0, &cur);
	if (r != 0 && r != SCP_E_PEER) {
		return r;
	}
	if (r == 0 && sftp_attr_is_dir(&cur)) {
		return 0;
	}
	memset(&a, 0, sizeof(a));
	a.flags = SSH2_FILEXFER_ATTR_PERMISSIONS;
	a.perm = (da->perm & 0777) | 0700;
	if ((r = sftp_do_mkdir(rl->to, dpath, &a)) != 0) {
		if (r != SCP_E_PEER) {
			return r;
		}
		r = xeng_note(rl->g, 1, "remote mkdir \"%s\": %s", dpath,
		    sftp_fx2txt(rl->to->last_status));
		return r < 0 ? r : 2;
	}
	return 1;
}

static int
relay_dir(struct relay *rl, const char *spath, const struct sftp_attr *da,
    const char *dpath)
{
	struct sftp_dirent *ents = NULL;
	struct sftp_attr a;
	size_t n = 0, i, suspect;
	int r, created;

	if (rl->depth >= SFTP_MAX_DEPTH) {
		return xeng_note(rl->g, 1, "Maximum directory depth exceeded: "
		    "%d levels", rl->depth);
	}
	if ((created = relay_mkdir(rl, dpath, da)) < 0) {
		return created;
	}
	if (created == 2) {
		return 0;
	}
	suspect = rl->from->suspect_names;
	if ((r = sftp_do_readdir(rl->from, spath, &ents, &n)) != 0) {
		if (r != SCP_E_PEER) {
			return r;
		}
		return xeng_note(rl->g, 1, "remote readdir \"%s\" failed",
		    spath);
	}
	/* Dropped suspect names (the wire said so): the copy is
	 * incomplete. */
	if (rl->from->suspect_names != suspect) {
		rl->errs++;
	}
	rl->stack[rl->depth++] = xstrdup(spath);
	r = 0;
	for (i = 0; i < n && r == 0; i++) {
		if ((r = dead_code(rl)) != 0) {
			break;
		}
		if (name_is_safe(ents[i].name)) {
			r = relay_entry(rl, spath, &ents[i], dpath, created);
		}
	}
	free(rl->stack[--rl->depth]);
	if (r != 0) {
		goto out_free;
	}
	memset(&a, 0, sizeof(a));
	if (rl->to->o->preserve) {
		a.flags = SSH2_FILEXFER_ATTR_PERMISSIONS;
		a.perm = da->perm & 07777;
		if (da->flags & SSH2_FILEXFER_ATTR_ACMODTIME) {
			a.flags |= SSH2_FILEXFER_ATTR_ACMODTIME;
			a.atime = da->atime;
			a.mtime = da->mtime;
		}
	} else if (created && (da->perm & 0700) != 0700) {
		a.flags = SSH2_FILEXFER_ATTR_PERMISSIONS;
		a.perm = da->perm & 0777;
	}
	if (a.flags != 0) {
		r = dirend_add(rl, dpath, &a);
	}
out_free:
	sftp_dirents_free(ents, n);
	return r;
}

/*
 * The name a relayed source gets in the target directory: its last
 * component, or for "." / "/" forms the last of its REALPATH.  NULL
 * with the error noted (the operand's match is skipped) or *rc < 0.
 */
static char *
relay_name(struct relay *rl, const char *src, int *rc)
{
	char *name, *canon = NULL;
	int r;

	*rc = 0;
	name = name_basename(src);
	if (name_is_safe(name) || name_is_here(name)) {
		return name;
	}
	free(name);
	name = NULL;
	if ((r = sftp_do_realpath(rl->from, src, &canon)) != 0) {
		if (r != SCP_E_PEER) {
			*rc = r;
			return NULL;
		}
	} else {
		name = name_basename(canon);
		free(canon);
	}
	if (name == NULL || !name_is_safe(name)) {
		free(name);
		*rc = xeng_note(rl->g, 1, "%s: cannot determine a name", src);
		return NULL;
	}
	return name;
}

/* One glob match of the operand to `dst`. */
static int
relay_match(struct relay *rl, const char *src, const char *dst)
{
	struct sftp_attr a;
	size_t len = strlen(src);
	char *canon = NULL;
	int r;

	if (len == 0 || src[len - 1] != '/' || !rl->from->o->recursive) {
		return relay_file(rl, src, NULL, dst, 0);
	}
	if ((r = sftp_do_realpath(rl->from, src, &canon)) != 0 ||
	    (r = sftp_do_stat(rl->from, canon, 0, &a)) != 0) {
		free(canon);
		if (r != SCP_E_PEER) {
			return r;
		}
		return xeng_note(rl->g, 1, "download \"%s\": path "
		    "canonicalization failed", src);
	}
	r = relay_dir(rl, canon, &a, dst);
	free(canon);
	return r;
}

static int
relay_run(struct relay *rl, const char *src, const char *target,
    int multiple)
{
	struct strvec g;
	struct sftp_attr ta;
	char *tpath = NULL, *name, *dst;
	size_t i;
	int r, tdir;

	strvec_init(&g);
	if ((r = sftp_glob_source(rl->from, src, &g)) != 0 ||
	    (r = sftp_prepare_path(rl->to, target, &tpath)) != 0) {
		if (r == 1 || r == SCP_E_PEER) {
			r = 1;
		}
		goto out;
	}
	r = sftp_do_stat(rl->to, tpath, 0, &ta);
	if (r != 0 && r != SCP_E_PEER) {
		goto out;
	}
	tdir = r == 0 && sftp_attr_is_dir(&ta);
	if ((multiple || g.n > 1) && !tdir) {
		/* OpenSSH's line names no file: say which target first. */
		log_error("%s: %s", tpath, r == SCP_E_PEER ?
		    sftp_fx2txt(rl->to->last_status) : strerror(ENOTDIR));
		log_error("Target is not a directory, but more files "
		    "selected for upload");
		r = 1;
		goto out;
	}
	r = 0;
	for (i = 0; i < g.n && r == 0; i++) {
		if ((r = dead_code(rl)) != 0) {
			break;
		}
		if ((name = relay_name(rl, g.v[i], &r)) == NULL) {
			continue;
		}
		dst = tdir && !name_is_here(name) ?
		    sftp_path_append(tpath, name) : xstrdup(tpath);
		free(name);
		r = relay_match(rl, g.v[i], dst);
		free(dst);
	}
	if (r == 0) {
		r = xeng_drain(rl->g);
	}
out:
	free(tpath);
	strvec_clear(&g);
	return r;
}

/* In-flight files: as many as both servers allow handles for. */
static size_t
relay_max_files(const struct relay *rl)
{
	size_t n = RELAY_MAX_FILES, h;

	h = xep_max_handles(rl->efrom);
	if (h > 0 && h / 2 < n) {
		n = h / 2;
	}
	h = xep_max_handles(rl->eto);
	if (h > 0 && h / 2 < n) {
		n = h / 2;
	}
	return n > 0 ? n : 1;
}

int
xfer_relay(struct sftp_session *from, const char *src,
    struct sftp_session *to, const char *target, int multiple)
{
	struct relay rl;
	struct xep *eps[2];
	int r, errs = 0;

	/* Uploads to `to` still in flight finish first (their order). */
	if (to->upq != NULL && (r = sftp_upload_flush(to)) != 0) {
		errs = 1;
		if (r < 0) {
			return r;
		}
	}
	if (from->dead || to->dead) {
		return SCP_E_CLOSED;
	}
	if ((r = sftp_limits(from)) != 0 || (r = sftp_limits(to)) != 0) {
		return r;
	}
	memset(&rl, 0, sizeof(rl));
	rl.from = from;
	rl.to = to;
	rl.efrom = xep_sftp(from);
	rl.eto = from == to ? rl.efrom : xep_sftp(to);
	eps[0] = rl.efrom;
	eps[1] = rl.eto;
	rl.g = xeng_new(eps, from == to ? 1 : 2, relay_max_files(&rl),
	    RELAY_MAX_JOBS);
	xfile_ctx_init(&rl.fc, rl.efrom, rl.eto, to->o, from);
	r = relay_run(&rl, src, target, multiple);
	if (r == 0 && (xeng_errors(rl.g) > 0 || rl.errs > 0)) {
		r = 1;
	}
	xeng_free(rl.g);
	if (rl.eto != rl.efrom) {
		xep_free(rl.eto);
	}
	xep_free(rl.efrom);
	if (io_cancelled()) {
		return SCP_E_INTR;
	}
	if (r < 0 || from->dead || to->dead) {
		return r == SCP_E_INTR ? r : SCP_E_CLOSED;
	}
	return r != 0 || errs ? 1 : 0;
}
