/*
 * The speculative tree, both its halves: the operand's (the walk of a
 * directory operand started before its target's answers are in, then
 * the decision) and the queue's (the tree's root node, the files and
 * directories it asked the server to create, their removal when the
 * tree is ours but not wanted).
 *
 * `scp -r dir host:existing/` is the usual
 * directory upload: the target is a directory and dir is new in it.
 * The tree's requests (STAT of the target and of the new name, MKDIR of
 * the temporary tree, its statvfs) go out first, and the walk follows
 * at once, as if the answers were that usual case, instead of one
 * round trip later: on a 50 ms link the first files' OPENs travel with
 * INIT.  The server answers in order, so every file's answer comes
 * after the tree's, and the queue decides (sftp_upload_spec_resolve)
 * before anything inside moves on: the WRITEs only ever go into a tree
 * we made.  Files are opened with EXCL, so a tree that is not ours (an
 * interrupted copy's) loses nothing.  Not the usual case: the files
 * opened are closed quietly, what we created is removed if the tree is
 * ours, and the walk is done again the right way.
 */
#include "upq_int.h"

#include <stdlib.h>
#include <string.h>

#include "../util/err.h"
#include "../util/strvec.h"
#include "../util/xmalloc.h"

/* ---- the operand's side ---- */

/* One speculative walk: what it asked, what came back, the decision. */
struct upspec {
	struct dirpre pre;	/* STAT dst, MKDIR tmp, statvfs (held) */
	uint32_t tgt_id;	/* STAT of the target, 0 when known */
	int tdir;		/* the target is a directory */
	int rtgt;		/* its STAT's result */
	struct sftp_attr cur;	/* the new name's STAT */
	int rs, rm;		/* the new name's STAT, the MKDIR */
	struct upq_dir *root;
	int resolved;
	int ours;		/* the usual case: build the tree */
};

int
sftp_upload_spec_given_up(const struct sftp_session *s)
{
	return s->up_spec != NULL && s->up_spec->resolved &&
	    !s->up_spec->ours;
}

int
sftp_upload_spec_resolve(struct sftp_session *s)
{
	struct upspec *sp = s->up_spec;
	struct sftp_attr ta;
	uint64_t avail;
	int r = 0, rv;

	if (sp == NULL || sp->resolved) {
		return 0;
	}
	sp->resolved = 1;
	if (sp->tgt_id != 0) {
		r = sp->rtgt = sftp_recv_attrs(s, sp->tgt_id, &ta);
		if (r != 0 && r != SCP_E_PEER) {
			goto dead;
		}
		sp->tdir = r == 0 && sftp_attr_is_dir(&ta);
	}
	if ((r = sftp_updir_tree_recv(s, &sp->pre, &sp->cur, &sp->rs,
	    &sp->rm, &rv, &avail)) != 0) {
		goto dead;
	}
	s->reply_hold = NULL;
	if ((r = sftp_limits_sizes(s)) != 0) {
		goto dead;
	}
	sp->ours = sp->tdir && sp->rs != 0 && sp->rm == 0;
	if (sp->ours && sp->pre.vfs) {
		free(s->vfs_dir);
		s->vfs_dir = xstrdup(sp->pre.tmp);
		s->vfs_avail = rv == 0 ? avail : UINT64_MAX;
	}
	sftp_upq_spec_decided(sp->root, sp->ours);
	return 0;
dead:
	s->reply_hold = NULL;
	sftp_upq_spec_decided(sp->root, 0);
	return r;
}

/*
 * The target's STAT goes out with the tree's requests unless the target
 * is already known to be a directory; its answer is remembered as
 * upload_target() (upload.c) remembers it.
 */
int
sftp_upload_spec(struct sftp_session *s, const char *src, const char *target,
    const char *name, const struct sftp_attr *a, int *done)
{
	struct upspec sp;
	struct dirstack ds;
	char *tgt = NULL, *dst = NULL;
	int r;

	*done = 1;
	memset(&sp, 0, sizeof(sp));
	if (s->up_target != NULL && strcmp(s->up_target, target) == 0) {
		if (!s->up_tdir) {
			*done = 0;
			return 0;
		}
		tgt = xstrdup(s->up_tgt);
		sp.tdir = 1;
	} else if ((r = sftp_upload_target_new(s, target, &tgt)) != 0) {
		return r;
	}
	dst = sftp_path_append(tgt, name);
	sftp_req_owner(s, &sp);
	r = sp.tdir ? 0 : sftp_send_stat(s, tgt, 0, &sp.tgt_id);
	if (r == 0) {
		r = sftp_updir_send_tree(s, dst, a, &sp.pre);
	}
	sftp_req_owner(s, NULL);
	if (r == 0) {
		/* The tree's requests leave before the walk starts. */
		r = sftp_flush(s);
	}
	if (r != 0) {
		goto out;
	}
	s->reply_hold = &sp;
	s->up_spec = &sp;
	sp.root = sftp_upq_spec_begin(s);
	memset(&ds, 0, sizeof(ds));
	r = sftp_upload_dir(s, src, sp.pre.tmp, &ds, HOW_TREE_ROOT, NULL, NULL);
	sftp_upq_spec_end(s);
	if (r == 0) {
		r = sftp_upload_spec_resolve(s);
	}
	/* Decided: a walk again is not the speculative one. */
	s->up_spec = NULL;
	if (r != 0) {
		goto out;
	}
	if (sp.tgt_id != 0) {
		sftp_upload_target_remember(s, target, tgt, sp.tdir);
	}
	if (sp.ours) {
		if ((r = sftp_upq_spec_finish(s, NULL)) == 0) {
			r = sftp_upq_publish(s, sp.pre.tmp, dst);
		}
		goto out;
	}
	if ((r = sftp_upq_spec_finish(s, sp.rm == 0 ? sp.pre.tmp :
	    NULL)) != 0) {
		goto out;
	}
	if (!sp.tdir) {
		*done = 0;
		goto out;
	}
	/* As sftp_updir_recv_tree() would have said, without asking
	 * again. */
	memset(&ds, 0, sizeof(ds));
	if (sp.rs != 0) {
		/* New, but the temporary tree could not be made. */
		r = sftp_upload_dir(s, src, dst, &ds, 0, NULL, NULL);
	} else if (sftp_attr_is_dir(&sp.cur)) {
		r = sftp_upload_dir(s, src, dst, &ds, HOW_EXISTS, NULL, NULL);
	} else {
		r = sftp_upq_note(s, 1, "remote mkdir \"%s\": %s", dst,
		    sftp_fx2txt(SSH2_FX_FAILURE));
		r = r < 0 ? r : 0;
	}
out:
	if (sp.root != NULL) {
		if (!sp.resolved) {
			/* Broken before it was decided: nothing goes on. */
			sftp_upq_spec_decided(sp.root, 0);
		}
		sftp_upq_dir_release(sp.root);
	}
	s->up_spec = NULL;
	s->reply_hold = NULL;
	free(sp.pre.tmp);
	free(tgt);
	free(dst);
	return r;
}

/* ---- the queue's side ---- */

int
upq_spec_skip(const struct sftp_upq *q)
{
	return q->spec_dir != NULL && q->spec_dir->cancelled;
}

/* Never waits: the tree's answers came before those of anything in it. */
int
upq_spec_settle(struct sftp_session *s, const struct ujob *j)
{
	if (j == NULL || !upq_dir_spec_pending(j->dir)) {
		return 0;
	}
	return sftp_upload_spec_resolve(s);
}
/*
 * Best effort removal of what a speculative walk created in a tree
 * that is ours but not wanted: files first, directories deepest first,
 * then `tmp` itself.  In order behind the OPENs and MKDIRs (the server
 * takes requests in order); a file still open goes all the same.
 */
static int
spec_remove(struct sftp_session *s, struct sftp_upq *q, const char *tmp)
{
	struct ujob *j = upq_job_new(s, UJ_RMDIR);
	uint32_t id;
	size_t i;
	int r = 0;

	upq_dir_unref(j->dir);
	j->dir = NULL;
	j->rpath = xstrdup(tmp);
	sftp_req_owner(s, j);
	for (i = 0; r == 0 && i < q->spec_files.n; i++) {
		if ((r = sftp_send_path(s, SSH2_FXP_REMOVE,
		    q->spec_files.v[i], NULL, &id)) == 0) {
			j->nout++;
		}
	}
	for (i = q->spec_dirs.n; r == 0 && i > 0; i--) {
		if ((r = sftp_send_path(s, SSH2_FXP_RMDIR,
		    q->spec_dirs.v[i - 1], NULL, &id)) == 0) {
			j->nout++;
		}
	}
	if (r == 0 && (r = sftp_send_path(s, SSH2_FXP_RMDIR, tmp, NULL,
	    &id)) == 0) {
		j->nout++;
	}
	sftp_req_owner(s, NULL);
	j->state = j->nout > 0 ? US_OPEN : US_DONE;
	return r;
}

struct upq_dir *
sftp_upq_spec_begin(struct sftp_session *s)
{
	struct sftp_upq *q = upq_get(s);
	struct upq_dir *d = xcalloc(1, sizeof(*d));

	d->refs = 2;		/* the caller's and the queue's */
	d->spec_pending = 1;
	q->spec_dir = d;
	strvec_clear(&q->spec_files);
	strvec_clear(&q->spec_dirs);
	return d;
}

void
sftp_upq_spec_end(struct sftp_session *s)
{
	struct sftp_upq *q = s->upq;

	if (q != NULL && q->spec_dir != NULL) {
		upq_dir_unref(q->spec_dir);
		q->spec_dir = NULL;
	}
}

void
sftp_upq_spec_decided(struct upq_dir *root, int ours)
{
	root->spec_pending = 0;
	root->cancelled = !ours;
}

int
sftp_upq_spec_finish(struct sftp_session *s, const char *tmp)
{
	struct sftp_upq *q = upq_get(s);
	int r = 0;

	if (tmp != NULL && (r = spec_remove(s, q, tmp)) != 0) {
		r = upq_abort(s, q, r);
	}
	strvec_clear(&q->spec_files);
	strvec_clear(&q->spec_dirs);
	return r != 0 ? r : upq_pump(s, q, 0);
}
