/*
 * The walk of a local source tree (OpenSSH's upload_dir_internal,
 * PROTOCOL.md section 4): its directories in name order, each made
 * remotely (or found there) and its files queued in walk order (upq.c);
 * loops and SFTP_MAX_DEPTH stopped; a directory's attributes set after
 * everything inside.  Also the requests that make one remote directory,
 * sent ahead of their answers (MKDIR, STAT, statvfs in one round trip),
 * which the operand's code (upload.c, up_spec.c) sends early too, and
 * the temporary tree's name.
 */
#include "up_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../transport/io.h"
#include "../util/err.h"
#include "../util/strvec.h"
#include "../util/xmalloc.h"

/* ---- the local directory ---- */

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names in local directory `path`, sorted, without "." and "..". */
static int
list_local_dir(struct sftp_session *s, const char *path,
    struct strvec *names, struct stat *st)
{
	struct dirent *de;
	DIR *d;
	int fd, r;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_NOCTTY)) == -1) {
		r = sftp_upq_note(s, 1, "open local \"%s\": %s", path,
		    strerror(errno));
		return r < 0 ? r : 1;
	}
	if (fstat(fd, st) == -1 || (d = fdopendir(fd)) == NULL) {
		r = sftp_upq_note(s, 1, "opendir local \"%s\": %s", path,
		    strerror(errno));
		close(fd);
		return r < 0 ? r : 1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0) {
			continue;
		}
		strvec_push(names, de->d_name);
	}
	closedir(d);
	qsort(names->v, names->n, sizeof(*names->v), cmp_name);
	return 0;
}

/* ---- the requests that make one remote directory ---- */

/*
 * A directory of the walk whose parent existed before: MKDIR, then STAT
 * (an existing directory is reused and keeps its mode), and the
 * statvfs@openssh.com that the room check of its files will want, in
 * one round trip (the server processes them in order).
 */
int
sftp_updir_send(struct sftp_session *s, const char *rpath,
    const struct sftp_attr *a, struct dirpre *pre)
{
	int r;

	memset(pre, 0, sizeof(*pre));
	pre->vfs = sftp_ext_likely(s, SFTP_EXT_STATVFS) && !s->o->inplace &&
	    !s->o->resume;
	if ((r = sftp_send_path(s, SSH2_FXP_MKDIR, rpath, a,
	    &pre->mid)) != 0 ||
	    (r = sftp_send_stat(s, rpath, 0, &pre->sid)) != 0 ||
	    (pre->vfs && (r = sftp_send_statvfs(s, rpath, &pre->vid)) != 0)) {
		return r;
	}
	pre->sent = 1;
	return 0;
}

int
sftp_updir_recv(struct sftp_session *s, const char *rpath,
    struct dirpre *pre, int *created)
{
	struct sftp_attr cur;
	uint64_t avail;
	uint32_t mcode;
	int r, rm, rs;

	*created = 0;
	pre->sent = 0;
	rm = sftp_recv_status(s, pre->mid);
	if (rm != 0 && rm != SCP_E_PEER) {
		return rm;
	}
	mcode = rm == 0 ? 0 : s->last_status;
	rs = sftp_recv_attrs(s, pre->sid, &cur);
	if (rs != 0 && rs != SCP_E_PEER) {
		return rs;
	}
	if (pre->vfs) {
		r = sftp_recv_statvfs(s, pre->vid, &avail);
		if (r != 0 && r != SCP_E_PEER) {
			return r;
		}
		if (rpath != NULL) {
			free(s->vfs_dir);
			s->vfs_dir = xstrdup(rpath);
			s->vfs_avail = r == 0 ? avail : UINT64_MAX;
		}
	}
	if (rpath == NULL) {
		/* A guess that was not needed (sftp_upload). */
		return 0;
	}
	if (rm == 0) {
		*created = 1;
		return 0;
	}
	if (rs == 0 && sftp_attr_is_dir(&cur)) {
		return 0;
	}
	/* MKDIR's own reason: what the sequential code printed. */
	r = sftp_upq_note(s, 1, "remote mkdir \"%s\": %s", rpath,
	    sftp_fx2txt(mcode));
	return r < 0 ? r : 1;
}

/*
 * A directory operand whose target does not exist yet is built under a
 * temporary name beside it, ".<name>.scp-dir", and renamed into place
 * once every file in it is whole (sftp_upq_publish): no partial file
 * ever sits under its final path, and the files inside need no temporary
 * name and rename of their own (a quarter of the requests of a tree of
 * small files).  An existing directory under the final name is reused,
 * as before; when the temporary name cannot be made, the plain way.
 */
char *
sftp_updir_tree_name(const char *dst)
{
	const char *slash = strrchr(dst, '/');

	return slash == NULL ? xasprintf(".%s.scp-dir", dst) :
	    xasprintf("%.*s.%s.scp-dir", (int)(slash - dst + 1), dst,
	    slash + 1);
}

int
sftp_updir_send_tree(struct sftp_session *s, const char *dst,
    const struct sftp_attr *a, struct dirpre *pre)
{
	int r;

	free(pre->tmp);		/* of a guess that was not needed */
	memset(pre, 0, sizeof(pre[0]));
	pre->tree = 1;
	pre->vfs = sftp_ext_likely(s, SFTP_EXT_STATVFS);
	pre->tmp = sftp_updir_tree_name(dst);
	if ((r = sftp_send_stat(s, dst, 0, &pre->sid)) != 0 ||
	    (r = sftp_send_path(s, SSH2_FXP_MKDIR, pre->tmp, a,
	    &pre->mid)) != 0 ||
	    (pre->vfs && (r = sftp_send_statvfs(s, pre->tmp,
	    &pre->vid)) != 0)) {
		return r;
	}
	pre->sent = 1;
	return 0;
}

/* The bare answers to sftp_updir_send_tree(), in the order sent. */
int
sftp_updir_tree_recv(struct sftp_session *s, struct dirpre *pre,
    struct sftp_attr *cur, int *rs, int *rm, int *rv, uint64_t *avail)
{
	pre->sent = 0;
	*rv = SCP_E_PEER;
	*avail = UINT64_MAX;
	*rs = sftp_recv_attrs(s, pre->sid, cur);
	if (*rs != 0 && *rs != SCP_E_PEER) {
		return *rs;
	}
	*rm = sftp_recv_status(s, pre->mid);
	if (*rm != 0 && *rm != SCP_E_PEER) {
		return *rm;
	}
	if (pre->vfs) {
		*rv = sftp_recv_statvfs(s, pre->vid, avail);
		if (*rv != 0 && *rv != SCP_E_PEER) {
			return *rv;
		}
	}
	return 0;
}

int
sftp_updir_recv_tree(struct sftp_session *s, const char *dst,
    struct dirpre *pre, int *how)
{
	struct sftp_attr cur;
	uint64_t avail;
	int r, rs, rm, rv;

	*how = 0;
	if ((r = sftp_updir_tree_recv(s, pre, &cur, &rs, &rm, &rv,
	    &avail)) != 0) {
		return r;
	}
	if (dst == NULL || rs == 0 || rm != 0) {
		/* Not ours to use: the empty directory goes (no wait). */
		if (rm == 0 && (r = sftp_upq_rmdir(s, pre->tmp)) != 0) {
			return r;
		}
		if (dst == NULL) {
			return 0;
		}
		if (rs == 0) {
			if (sftp_attr_is_dir(&cur)) {
				*how = HOW_EXISTS;
				return 0;
			}
			/* What MKDIR of an existing name says. */
			r = sftp_upq_note(s, 1, "remote mkdir \"%s\": %s",
			    dst, sftp_fx2txt(SSH2_FX_FAILURE));
			return r < 0 ? r : 1;
		}
		return 0;
	}
	*how = HOW_TREE_ROOT;
	if (pre->vfs) {
		free(s->vfs_dir);
		s->vfs_dir = xstrdup(pre->tmp);
		s->vfs_avail = rv == 0 ? avail : UINT64_MAX;
	}
	return 0;
}

/* ---- the walk ---- */

/*
 * Queues the upload of local directory `lpath` as remote `rpath`
 * (upq.c).  `how`: 0 when the remote parent existed: an existing
 * directory is reused (and keeps its mode), which takes a STAT (sent
 * already when `pre` says so).  SFTP_UPQ_FRESH or SFTP_UPQ_DIRECT: the
 * parent is one we are creating (its node `pdir`, NULL when that MKDIR
 * already succeeded), so `rpath` cannot exist and is made without
 * asking; DIRECT inside a temporary tree.  HOW_TREE_ROOT: `rpath` is
 * that temporary tree, made by the caller.  HOW_EXISTS: `rpath` is known
 * to be an existing directory.  Every
 * error goes through the queue, so it is printed in walk order and
 * counted there.  0, or <0 when the session broke or we were
 * interrupted.
 */
int
sftp_upload_dir(struct sftp_session *s, const char *lpath,
    const char *rpath, struct dirstack *ds, int how, struct upq_dir *pdir,
    struct dirpre *pre)
{
	struct strvec names;
	struct sftp_attr a, cur;
	struct stat st, est;
	struct upq_dir *dir = NULL;
	struct dirpre pre_own;
	char *lsub, *rsub, *fmsg;
	size_t i;
	int r, created = 0, k;

	if (ds->n >= SFTP_MAX_DEPTH) {
		r = sftp_upq_note(s, 1, "Maximum directory depth exceeded: "
		    "%d levels", ds->n);
		return r < 0 ? r : 0;
	}
	strvec_init(&names);
	if ((r = list_local_dir(s, lpath, &names, &st)) != 0) {
		strvec_clear(&names);
		if (r > 0 && pre != NULL && pre->sent) {
			r = sftp_updir_recv(s, NULL, pre, &created);
		}
		return r < 0 ? r : 0;
	}
	for (k = 0; k < ds->n; k++) {
		if (ds->dev[k] == st.st_dev && ds->ino[k] == st.st_ino) {
			/* Like a non-regular file: said, not an error. */
			r = sftp_upq_note(s, 0, "%s: directory loop, skipped",
			    lpath);
			strvec_clear(&names);
			return r < 0 ? r : 0;
		}
	}
	ds->dev[ds->n] = st.st_dev;
	ds->ino[ds->n] = st.st_ino;
	ds->n++;

	memset(&a, 0, sizeof(a));
	a.flags = SSH2_FILEXFER_ATTR_PERMISSIONS;
	a.perm = (st.st_mode & 0777) | 0700;
	if (how == HOW_TREE_ROOT) {
		created = SFTP_UPQ_DIRECT;
	} else if (how == HOW_EXISTS) {
		created = 0;
	} else if (how != 0) {
		dir = sftp_upq_mkdir(s, rpath, &a, pdir, &r);
		if (r < 0) {
			goto out;
		}
		created = how;
	} else if (((pre == NULL || !pre->sent) &&
	    (r = sftp_updir_send(s, rpath, &a, &pre_own)) != 0) ||
	    (r = sftp_updir_recv(s, rpath, pre != NULL && pre->sent ? pre :
	    &pre_own, &created)) != 0) {
		if (r > 0) {
			r = 0;
		}
		goto out;
	}
	for (i = 0; i < names.n && !io_cancelled() &&
	    !sftp_upload_spec_given_up(s); i++) {
		lsub = sftp_path_append(lpath, names.v[i]);
		rsub = sftp_path_append(rpath, names.v[i]);
		r = 0;
		if (stat(lsub, &est) == -1) {
			/* Dangling symlinks: an error, as in OpenSSH. */
			r = sftp_upq_note(s, 1, "open local \"%s\": %s", lsub,
			    strerror(errno));
			if (r == 0) {
				r = sftp_upq_note(s, 0, "upload \"%s\" to "
				    "\"%s\" failed", lsub, rsub);
			}
		} else if (S_ISDIR(est.st_mode)) {
			r = sftp_upload_dir(s, lsub, rsub, ds, created, dir,
			    NULL);
		} else if (S_ISREG(est.st_mode)) {
			fmsg = xasprintf("upload \"%s\" to \"%s\" failed",
			    lsub, rsub);
			r = sftp_upq_file(s, lsub, rsub, &est, created, dir,
			    fmsg);
			free(fmsg);
		} else {
			/* Reported, but not an error (OpenSSH's logit). */
			r = sftp_upq_note(s, 0, "%s: not a regular file",
			    names.v[i]);
		}
		free(lsub);
		free(rsub);
		if (r < 0) {
			goto out;
		}
	}
	r = 0;
	if (io_cancelled()) {
		r = SCP_E_INTR;
		goto out;
	}
	/*
	 * Directory attributes last, so writes inside don't disturb them.
	 * An existing directory keeps its mode unless -p (OpenSSH 9.x
	 * clobbered it, section 6).
	 */
	memset(&a, 0, sizeof(a));
	if (s->o->preserve) {
		a.flags = SSH2_FILEXFER_ATTR_PERMISSIONS |
		    SSH2_FILEXFER_ATTR_ACMODTIME;
		a.perm = st.st_mode & 07777;
		sftp_attr_from_stat(&cur, &st);
		a.atime = cur.atime;
		a.mtime = cur.mtime;
	} else if (created && (st.st_mode & 0700) != 0700) {
		a.flags = SSH2_FILEXFER_ATTR_PERMISSIONS;
		a.perm = st.st_mode & 0777;
	}
	if (a.flags != 0) {
		r = sftp_upq_setstat(s, rpath, &a, dir);
	}
out:
	sftp_upq_dir_release(dir);
	ds->n--;
	strvec_clear(&names);
	return r < 0 ? r : 0;
}
