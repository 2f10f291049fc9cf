/*
 * One remote directory tree, sequentially (OpenSSH's download_dir, for
 * --resume): the local directory made or reused, the listing sorted, each
 * entry copied in turn (symlinks followed, loops refused), then the
 * directory's times and mode once its files are in.  The queue's
 * directory jobs (dl_qdir.c) do the same in the same order.
 */
#include "dl_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../fs/name.h"
#include "../fs/outfile.h"
#include "../transport/io.h"
#include "../util/err.h"
#include "../util/log.h"
#include "../util/xmalloc.h"

int
download_cmp_dirent(const void *a, const void *b)
{
	return strcmp(((const struct sftp_dirent *)a)->name,
	    ((const struct sftp_dirent *)b)->name);
}

/* An entry of a remote directory being copied into `dfd`. */
static int
download_entry(struct sftp_session *s, const char *rdir,
    const struct sftp_dirent *e, int dfd, const char *ldir,
    struct rstack *rs, int fresh)
{
	struct sftp_attr a = e->a;
	char *sub, *lsub, *canon = NULL;
	int r = 0, k;

	sub = sftp_path_append(rdir, e->name);
	lsub = sftp_path_append(ldir, e->name);
	if (sftp_attr_is_lnk(&a)) {
		/* Symlinks are followed (9.5+, section 4). */
		if ((r = sftp_do_stat(s, sub, 0, &a)) != 0) {
			/* Dangling: an error, as in OpenSSH. */
			if (r == SCP_E_PEER) {
				log_error("stat remote: %s",
				    sftp_fx2txt(s->last_status));
				log_error("Download of file %s to %s failed",
				    sub, lsub);
				r = 1;
			}
			goto out;
		}
		if (sftp_attr_is_dir(&a)) {
			if ((r = sftp_do_realpath(s, sub, &canon)) != 0) {
				if (r == SCP_E_PEER) {
					log_error("download \"%s\": path "
					    "canonicalization failed", sub);
					r = 1;
				}
				goto out;
			}
			for (k = 0; k < rs->n; k++) {
				if (strcmp(rs->path[k], canon) == 0) {
					log_error("download \"%s\": directory "
					    "loop, skipped", sub);
					goto out;
				}
			}
			free(sub);
			sub = canon;
			canon = NULL;
		}
	}
	if (sftp_attr_is_dir(&a)) {
		r = download_dir(s, sub, &a, dfd, e->name, lsub, 1, rs);
	} else if (sftp_attr_is_reg(&a)) {
		r = download_file(s, sub, &a, dfd, e->name, lsub,
		    OUTFILE_NOFOLLOW | (fresh ? OUTFILE_FRESH : 0));
		if (r > 0) {
			log_error("Download of file %s to %s failed", sub,
			    lsub);
		}
	} else {
		/* Reported, not an error (OpenSSH's logit). */
		log_error("download \"%s\": not a regular file", sub);
	}
out:
	free(canon);
	free(sub);
	free(lsub);
	return r;
}

int
download_dir(struct sftp_session *s, const char *rpath,
    const struct sftp_attr *da, int parentfd, const char *lname,
    const char *ldisp, int nofollow, struct rstack *rs)
{
	struct sftp_dirent *ents = NULL;
	struct timespec ts[2];
	struct stat st;
	size_t n = 0, i, suspect;
	mode_t mode = 0777, tmpmode;
	int dfd = -1, r = 0, errs = 0, created = 0;

	if (rs->n >= SFTP_MAX_DEPTH) {
		log_error("Maximum directory depth exceeded: %d levels",
		    rs->n);
		return 1;
	}
	if (!sftp_attr_is_dir(da)) {
		log_error("\"%s\" is not a directory", rpath);
		return 1;
	}
	if (da->flags & SSH2_FILEXFER_ATTR_PERMISSIONS) {
		mode = da->perm & 01777;
	}
	tmpmode = mode | S_IWUSR | S_IXUSR | S_IRUSR;
	if (mkdirat(parentfd, lname, tmpmode) == 0) {
		created = 1;
	} else if (errno != EEXIST) {
		log_error("mkdir %s: %s", ldisp, strerror(errno));
		return 1;
	}
	dfd = openat(parentfd, lname, O_RDONLY | O_DIRECTORY | O_NOCTTY |
	    (nofollow ? O_NOFOLLOW : 0));
	if (dfd == -1 || fstat(dfd, &st) == -1) {
		log_error("open local \"%s\": %s", ldisp,
		    errno == ELOOP ? strerror(ENOTDIR) : strerror(errno));
		if (dfd != -1) {
			close(dfd);
		}
		return 1;
	}
	rs->path[rs->n++] = xstrdup(rpath);
	suspect = s->suspect_names;
	if ((r = sftp_do_readdir(s, rpath, &ents, &n)) != 0) {
		if (r == SCP_E_PEER) {
			log_error("remote readdir \"%s\" failed", rpath);
			errs = 1;
			r = 0;
		}
		goto out;
	}
	/* Names dropped as suspect were not copied: say so in the exit
	 * status (the messages are out already). */
	if (s->suspect_names != suspect) {
		errs = 1;
	}
	if (n > 1) {
		qsort(ents, n, sizeof(*ents), download_cmp_dirent);
	}
	for (i = 0; i < n && !io_cancelled(); i++) {
		if (!name_is_safe(ents[i].name)) {
			continue;
		}
		/* A directory we made holds no stale partials. */
		r = download_entry(s, rpath, &ents[i], dfd, ldisp, rs,
		    created);
		if (r < 0) {
			goto out;
		}
		if (r > 0) {
			errs = 1;
		}
	}
	r = 0;
	if (io_cancelled()) {
		r = SCP_E_INTR;
		goto out;
	}
	if (s->o->preserve) {
		if (da->flags & SSH2_FILEXFER_ATTR_ACMODTIME) {
			ts[0].tv_sec = (time_t)da->atime;
			ts[0].tv_nsec = 0;
			ts[1].tv_sec = (time_t)da->mtime;
			ts[1].tv_nsec = 0;
			if (futimens(dfd, ts) == -1) {
				log_error("local set times on \"%s\": %s",
				    ldisp, strerror(errno));
				errs = 1;
			}
		}
		/* Exactly, umask or not (OpenSSH 9.2 lost bits here). */
		if (fchmod(dfd, mode) == -1) {
			log_error("local chmod directory \"%s\": %s", ldisp,
			    strerror(errno));
			errs = 1;
		}
	} else if (created && mode != tmpmode) {
		if (fchmod(dfd, mode & ~outfile_get_umask()) == -1) {
			log_error("local chmod directory \"%s\": %s", ldisp,
			    strerror(errno));
			errs = 1;
		}
	}
out:
	free(rs->path[--rs->n]);
	sftp_dirents_free(ents, n);
	close(dfd);
	if (r < 0) {
		return r;
	}
	return errs;
}
