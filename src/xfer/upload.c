/*
 * Uploads (OpenSSH's source_sftp, PROTOCOL.md section 4): one operand at
 * a time, sftp_upload().  Here a source is matched with its target: the
 * target prepared and STATed once for all the operands that name it (scp
 * *.jpg host:dir), the name the source gets in it, a missing target
 * directory made for several sources, and the way a directory operand
 * is made: under a temporary tree published once whole, the speculative
 * way (up_spec.c), an interrupted tree continued (--resume), or in
 * place.  What the walk finds is queued (upq.c) and comes out in walk
 * order; the operand's end is a job of its own.
 */
#include "up_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../fs/name.h"
#include "../transport/io.h"
#include "../util/err.h"
#include "../util/log.h"
#include "../util/xmalloc.h"

/*
 * The name a source gets inside a target directory.  "." and ".."
 * (as in "dir/sub/..") are "." (name_is_here(): into the target itself);
 * "/" gets the real directory's name.  NULL if there is none.
 */
static char *
source_name(const char *src)
{
	char *base = name_basename(src), *real, *b2;

	if (name_is_safe(base)) {
		return base;
	}
	if (name_is_here(base)) {
		free(base);
		return xstrdup(".");
	}
	free(base);
	if ((real = realpath(src, NULL)) == NULL) {
		return NULL;
	}
	b2 = name_basename(real);
	free(real);
	if (!name_is_safe(b2)) {
		free(b2);
		return NULL;
	}
	return b2;
}

void
sftp_upload_target_forget(struct sftp_session *s)
{
	free(s->up_target);
	free(s->up_tgt);
	s->up_target = s->up_tgt = NULL;
	s->up_tdir = 0;
}

/*
 * --resume of a directory operand: when `dst` does not exist but the
 * temporary tree of an interrupted copy does, that tree is continued
 * (its partials verified as usual) and published at the end.  Sets
 * pre->tmp (not pre->sent) in that case.  0 or <0 fatal.
 */
static int
resume_tree(struct sftp_session *s, const char *dst, struct dirpre *pre)
{
	struct sftp_attr ad, at;
	uint32_t idd, idt;
	char *tmp;
	int r, rd, rt;

	tmp = sftp_updir_tree_name(dst);
	if ((r = sftp_send_stat(s, dst, 1, &idd)) != 0 ||
	    (r = sftp_send_stat(s, tmp, 1, &idt)) != 0) {
		free(tmp);
		return r;
	}
	rd = sftp_recv_attrs(s, idd, &ad);
	rt = sftp_recv_attrs(s, idt, &at);
	if ((rd != 0 && rd != SCP_E_PEER) || (rt != 0 && rt != SCP_E_PEER)) {
		free(tmp);
		return rd != 0 && rd != SCP_E_PEER ? rd : rt;
	}
	if (rd == SCP_E_PEER && rt == 0 && sftp_attr_is_dir(&at)) {
		log_debug("resuming the interrupted copy in \"%s\"", tmp);
		pre->tmp = tmp;
		return 0;
	}
	free(tmp);
	return 0;
}

int
sftp_upload_target_new(struct sftp_session *s, const char *target,
    char **tgt)
{
	sftp_upload_target_forget(s);
	free(s->vfs_dir);
	s->vfs_dir = NULL;
	return sftp_prepare_path(s, target, tgt);
}

void
sftp_upload_target_remember(struct sftp_session *s, const char *target,
    const char *tgt, int tdir)
{
	s->up_target = xstrdup(target);
	s->up_tgt = xstrdup(tgt);
	s->up_tdir = tdir;
}

/* Whether a new directory operand is built as a temporary tree. */
static int
tree_ok(struct sftp_session *s)
{
	/* --inplace asks for no temporary names; --resume continues the
	 * partial files of an earlier copy in place. */
	return !s->o->inplace && !s->o->resume &&
	    sftp_ext_likely(s, SFTP_EXT_POSIX_RENAME);
}

/*
 * The target of the last operand: the same target for several operands
 * (scp *.jpg host:dir) is prepared and STATed once, so that their files
 * are all in flight together.  Dropped by sftp_upload_flush().
 */
static int
upload_target(struct sftp_session *s, const char *target, char **tgt,
    int *tdir, const char *guess, const struct sftp_attr *ga,
    struct dirpre *pre)
{
	struct sftp_attr ta;
	uint32_t id;
	char *path;
	int r;

	if (s->up_target != NULL && strcmp(s->up_target, target) == 0) {
		*tgt = xstrdup(s->up_tgt);
		*tdir = s->up_tdir;
		return 0;
	}
	if ((r = sftp_upload_target_new(s, target, tgt)) != 0) {
		return r;
	}
	/*
	 * `guess`: the name a directory operand will get if the target is
	 * a directory (scp -r dir host:existing/, the usual case).  Its
	 * MKDIR/STAT travel with the target's STAT: one round trip less.
	 * Harmless otherwise: MKDIR inside a non-directory fails.
	 */
	if ((r = sftp_send_stat(s, *tgt, 0, &id)) != 0) {
		goto fail;
	}
	if (guess != NULL) {
		path = sftp_path_append(*tgt, guess);
		r = tree_ok(s) ? sftp_updir_send_tree(s, path, ga, pre) :
		    sftp_updir_send(s, path, ga, pre);
		free(path);
		if (r != 0) {
			goto fail;
		}
	}
	r = sftp_recv_attrs(s, id, &ta);
	if (r == 0 || r == SCP_E_PEER) {
		/* Its reply came in before the STAT's: no wait. */
		int lr = sftp_limits_sizes(s);

		r = lr != 0 ? lr : r;
	}
	if (r != 0 && r != SCP_E_PEER) {
fail:
		free(*tgt);
		*tgt = NULL;
		return r;
	}
	*tdir = r == 0 && sftp_attr_is_dir(&ta);
	sftp_upload_target_remember(s, target, *tgt, *tdir);
	return 0;
}

int
sftp_upload(struct sftp_session *s, const char *src, const char *target,
    int multiple)
{
	struct sftp_attr a;
	struct dirstack ds;
	struct dirpre pre;
	struct stat st;
	char *tgt = NULL, *name = NULL, *dst = NULL, *msg = NULL;
	int r, tdir = 0, k, here = 0;

	if (s->dead) {
		return SCP_E_CLOSED;
	}
	/* The target cached on the session goes when it does. */
	s->xfer_free = sftp_upq_free;
	memset(&pre, 0, sizeof(pre));
	if (stat(src, &st) == -1) {
		/* One file's failure, in walk order (OpenSSH is fatal here:
		 * docs/SAFETY.md "Failures"). */
		r = sftp_upq_note_src(s, src, "stat local \"%s\": %s", src,
		    strerror(errno));
		goto walked;
	}
	if (S_ISDIR(st.st_mode) && s->o->recursive) {
		/* Computed early for upload_target's guess. */
		name = source_name(src);
		here = name != NULL && strcmp(name, ".") == 0;
		memset(&a, 0, sizeof(a));
		a.flags = SSH2_FILEXFER_ATTR_PERMISSIONS;
		a.perm = (st.st_mode & 0777) | 0700;
		/* Into the target itself: nothing to guess or speculate. */
		if (name != NULL && !here && tree_ok(s)) {
			r = sftp_upload_spec(s, src, target, name, &a, &k);
			if (r == SCP_E_PEER) {
				(void)sftp_upload_flush(s);
				r = SCP_E_SYS;
				goto out;
			}
			if (k) {
				msg = xasprintf("failed to upload directory "
				    "%s to %s", src, target);
				goto walked;
			}
		}
	}
	if ((r = upload_target(s, target, &tgt, &tdir, here ? NULL : name,
	    &a, &pre)) == 0 && pre.sent && !tdir) {
		r = pre.tree ? sftp_updir_recv_tree(s, NULL, &pre, &k) :
		    sftp_updir_recv(s, NULL, &pre, &k);
	}
	if (r != 0) {
		if (r == SCP_E_PEER) {
			(void)sftp_upload_flush(s);
			r = SCP_E_SYS;
		}
		goto out;
	}
	if (multiple && !tdir) {
		log_debug("target directory \"%s\" does not exist", tgt);
		memset(&a, 0, sizeof(a));
		a.flags = SSH2_FILEXFER_ATTR_PERMISSIONS;
		a.perm = (st.st_mode & 0777) | 0700;
		if ((r = sftp_do_mkdir(s, tgt, &a)) != 0) {
			if (r == SCP_E_PEER) {
				/* The operand's failure, not the run's
				 * (OpenSSH exits 255): docs/SAFETY.md. */
				r = sftp_upq_note(s, 1, "remote mkdir \"%s\": "
				    "%s", tgt, sftp_fx2txt(s->last_status));
				goto walked;
			}
			goto out;
		}
		tdir = 1;
		s->up_tdir = 1;
	}
	if (tdir) {
		if (name == NULL && (name = source_name(src)) == NULL) {
			r = sftp_upq_note(s, 1, "%s: cannot determine a name "
			    "for the target", src);
			goto out;
		}
		dst = name_is_here(name) ? xstrdup(tgt) :
		    sftp_path_append(tgt, name);
	} else {
		dst = xstrdup(tgt);
	}
	log_debug3("copying local %s to remote %s", src, dst);
	if (S_ISDIR(st.st_mode) && s->o->recursive) {
		memset(&ds, 0, sizeof(ds));
		msg = xasprintf("failed to upload directory %s to %s", src,
		    target);
		if (!pre.sent && tree_ok(s) && (r = sftp_updir_send_tree(s,
		    dst, &a, &pre)) != 0) {
			free(msg);
			goto out;
		}
		if (!pre.sent && s->o->resume && !s->o->inplace &&
		    sftp_has_ext(s, SFTP_EXT_POSIX_RENAME) &&
		    (r = resume_tree(s, dst, &pre)) != 0) {
			free(msg);
			goto out;
		}
		if (pre.tmp != NULL && !pre.sent) {
			/* --resume: an interrupted tree is continued. */
			r = sftp_upload_dir(s, src, pre.tmp, &ds, HOW_EXISTS,
			    NULL, NULL);
			if (r == 0) {
				r = sftp_upq_publish(s, pre.tmp, dst);
			}
		} else if (pre.sent && pre.tree) {
			if ((r = sftp_updir_recv_tree(s, dst, &pre, &k)) > 0) {
				r = 0;
			} else if (r == 0 && k == HOW_TREE_ROOT) {
				r = sftp_upload_dir(s, src, pre.tmp, &ds, k,
				    NULL, NULL);
				if (r == 0) {
					r = sftp_upq_publish(s, pre.tmp, dst);
				}
			} else if (r == 0) {
				r = sftp_upload_dir(s, src, dst, &ds, k, NULL,
				    NULL);
			}
		} else {
			r = sftp_upload_dir(s, src, dst, &ds, 0, NULL, &pre);
		}
	} else {
		msg = xasprintf("failed to upload file %s to %s", src, target);
		r = sftp_upq_file(s, src, dst, NULL, 0, NULL, msg);
		free(msg);
		msg = NULL;
	}
walked:
	/* Resets the count of this operand's errors (and says so). */
	if (r == 0) {
		r = sftp_upq_opend(s, 0, msg);
	}
	free(msg);
	if (r == 0 && !s->o->defer) {
		r = sftp_upload_flush(s);
	}
out:
	free(pre.tmp);
	free(tgt);
	free(name);
	free(dst);
	if (io_cancelled()) {
		return SCP_E_INTR;
	}
	if (s->dead) {
		return r == SCP_E_INTR ? r : SCP_E_CLOSED;
	}
	if (r < 0 && r != SCP_E_SYS) {
		return SCP_E_CLOSED;
	}
	return r > 0 ? 1 : r;
}
