/*
 * The download queue's directories: the local mkdir and the
 * OPENDIR/READDIRs sent ahead of the cursor (several READDIRs in flight
 * per handle), the listing turned into jobs in name order when the
 * cursor reaches it, the directory's times and mode once its files are
 * in (as download_dir() in dl_tree.c), and the symlinks found in a
 * listing, run at the head (as download_entry()).
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
#include "../util/buf.h"
#include "../util/err.h"
#include "../util/log.h"
#include "../util/report.h"
#include "../util/strvec.h"
#include "../util/xmalloc.h"

static int
dl_dir_send(struct dl_engine *e, struct dl_job *j, int close)
{
	struct sftp_session *s = e->s;
	uint32_t id;
	int r;

	sftp_req_owner(s, j);
	if (close) {
		r = sftp_send_close(s, &j->h, &j->cid);
		j->hopen = 0;
	} else if ((r = sftp_req_begin(s, SSH2_FXP_READDIR, j, &id)) == 0) {
		r = buf_put_string(s->wbuf, j->h.h, j->h.len);
		if (r != 0) {
			r = sftp_fail(s, r, "compose: %s", scp_strerror(r));
		} else {
			r = sftp_req_send(s);
		}
	}
	sftp_req_owner(s, NULL);
	if (r == 0) {
		j->nout++;
		j->rdout += !close;
	}
	return r;
}

/* READDIRs until DL_READDIR_AHEAD are in flight. */
static int
dl_dir_readdirs(struct dl_engine *e, struct dl_job *j)
{
	int r;

	while (j->rdout < DL_READDIR_AHEAD) {
		if ((r = dl_dir_send(e, j, 0)) != 0) {
			return r;
		}
	}
	return 0;
}

/* The listing is over (`failed`: the message is in j->msgs). */
static int
dl_dir_listed(struct dl_engine *e, struct dl_job *j, int failed)
{
	int r = 0;

	j->listing = 0;
	if (j->hopen) {
		r = dl_dir_send(e, j, 1);
	}
	e->nlisting--;
	e->pf_dirty = 1;
	if (failed) {
		dl_done(e, j, 1);
	} else {
		j->state = DLS_LISTED;
		e->ops++;
		if (j->ls.n > 1) {
			qsort(j->ls.ents, j->ls.n, sizeof(*j->ls.ents),
			    download_cmp_dirent);
		}
	}
	return r;
}

/*
 * A directory job that will not list after all: the handle the glob's
 * OPENDIR gave is closed (its reply is dropped as the listing's CLOSE).
 */
static int
dl_dir_drop_pre(struct dl_engine *e, struct dl_job *j)
{
	if (j->pre_dir != 1) {
		return 0;
	}
	j->pre_dir = 0;
	return dl_dir_send(e, j, 1);
}

/*
 * Starts a directory: download_dir()'s checks and local mkdir, then
 * OPENDIR.  Failures are the job's messages.
 */
int
dl_dir_start(struct dl_engine *e, struct dl_job *j)
{
	struct sftp_session *s = e->s;
	struct dl_dir *d;
	struct stat st;
	uint32_t id;
	mode_t mode = 0777, tmpmode;
	int depth = j->dir != NULL ? j->dir->depth + 1 : 0;
	int dfd, created = 0, r;

	j->started = 1;
	e->ops++;
	if (depth >= SFTP_MAX_DEPTH) {
		strvec_pushf(&j->msgs, "Maximum directory depth exceeded: "
		    "%d levels", depth);
		dl_done(e, j, 1);
		return dl_dir_drop_pre(e, j);
	}
	if (!sftp_attr_is_dir(&j->a)) {
		strvec_pushf(&j->msgs, "\"%s\" is not a directory", j->rpath);
		dl_done(e, j, 1);
		return dl_dir_drop_pre(e, j);
	}
	if (j->a.flags & SSH2_FILEXFER_ATTR_PERMISSIONS) {
		mode = j->a.perm & 01777;
	}
	tmpmode = mode | S_IWUSR | S_IXUSR | S_IRUSR;
	if (mkdirat(j->dirfd, j->lname, tmpmode) == 0) {
		created = 1;
	} else if (errno != EEXIST) {
		strvec_pushf(&j->msgs, "mkdir %s: %s", j->ldisp,
		    strerror(errno));
		dl_done(e, j, 1);
		return dl_dir_drop_pre(e, j);
	}
	dfd = openat(j->dirfd, j->lname, O_RDONLY | O_DIRECTORY | O_NOCTTY |
	    (j->nofollow ? O_NOFOLLOW : 0));
	if (dfd == -1 || fstat(dfd, &st) == -1) {
		strvec_pushf(&j->msgs, "open local \"%s\": %s", j->ldisp,
		    errno == ELOOP ? strerror(ENOTDIR) : strerror(errno));
		if (dfd != -1) {
			close(dfd);
		}
		dl_done(e, j, 1);
		return dl_dir_drop_pre(e, j);
	}
	d = xcalloc(1, sizeof(*d));
	d->parent = j->dir;
	d->rpath = xstrdup(j->rpath);
	d->ldisp = xstrdup(j->ldisp);
	d->a = j->a;
	d->dfd = dfd;
	d->created = created;
	d->depth = depth;
	d->mode = mode;
	d->tmpmode = tmpmode;
	j->d = d;
	if (j->pre_dir != 0) {
		/* The OPENDIR went with the operand's LSTAT. */
		j->state = DLS_LIST;
		e->nlisting++;
		if (j->pre_dir < 0) {
			strvec_pushf(&j->msgs, "remote readdir \"%s\" failed",
			    j->rpath);
			return dl_dir_listed(e, j, 1);
		}
		j->pre_dir = 0;
		j->hopen = 1;
		j->listing = 2;
		return dl_dir_readdirs(e, j);
	}
	if ((r = sftp_req_begin(s, SSH2_FXP_OPENDIR, j, &id)) != 0) {
		return r;
	}
	if ((r = buf_put_cstring(s->wbuf, j->rpath)) != 0) {
		return sftp_fail(s, r, "compose: %s", scp_strerror(r));
	}
	if ((r = sftp_req_send(s)) != 0) {
		return r;
	}
	j->nout++;
	j->listing = 1;
	j->state = DLS_LIST;
	e->nlisting++;
	return 0;
}

int
dl_dir_reply(struct dl_engine *e, struct dl_job *j, uint32_t id,
    uint8_t type, struct buf *b)
{
	struct sftp_session *s = e->s;
	uint32_t count = 0;
	int r;

	j->nout--;
	if (j->listing == 2) {
		j->rdout--;
	}
	if (j->listing == 0 || (j->cid != 0 && id == j->cid)) {
		/*
		 * CLOSE of the listing (sftp_do_readdir ignores its errors),
		 * or a READDIR sent ahead past the end (it says EOF).
		 */
		if (j->cid != 0 && id == j->cid) {
			j->cid = 0;
		}
		buf_free(b);
		return 0;
	}
	if (j->listing == 1) {
		if ((r = sftp_take_handle(s, type, b, &j->h)) != 0) {
			if (r != SCP_E_PEER) {
				return r;
			}
			strvec_pushf(&j->msgs, "remote readdir \"%s\" failed",
			    j->rpath);
			return dl_dir_listed(e, j, 1);
		}
		j->hopen = 1;
		j->listing = 2;
		return dl_dir_readdirs(e, j);
	}
	if (type == SSH2_FXP_STATUS) {
		r = sftp_take_status(s, type, b);
		if (r == SCP_E_PEER && s->last_status == SSH2_FX_EOF) {
			return dl_dir_listed(e, j, 0);
		}
		if (r == 0) {
			return sftp_fail(s, SCP_E_FORMAT,
			    "Unexpected OK status in READDIR");
		}
		if (r != SCP_E_PEER) {
			return r;
		}
		strvec_pushf(&j->msgs, "remote readdir \"%s\" failed",
		    j->rpath);
		return dl_dir_listed(e, j, 1);
	}
	if (type != SSH2_FXP_NAME) {
		buf_free(b);
		return sftp_fail(s, SCP_E_FORMAT,
		    "Expected packet type %u, got %u", SSH2_FXP_NAME, type);
	}
	r = sftp_take_names(s, b, j->rpath, &j->ls, &j->msgs, &count);
	buf_free(b);
	if (r == SCP_E_TOOBIG) {
		strvec_pushf(&j->msgs, "remote readdir \"%s\": too many "
		    "entries", j->rpath);
		strvec_pushf(&j->msgs, "remote readdir \"%s\" failed",
		    j->rpath);
		return dl_dir_listed(e, j, 1);
	}
	if (r != 0) {
		return sftp_fail(s, SCP_E_FORMAT, "Malformed NAME reply");
	}
	/* An empty reply ends the listing (as sftp_do_readdir). */
	if (count == 0) {
		return dl_dir_listed(e, j, 0);
	}
	return dl_dir_readdirs(e, j);
}

/* The job for entry `ent` of directory `d` (download_entry()'s cases). */
static struct dl_job *
dl_entry_job(struct dl_engine *e, struct dl_dir *d,
    const struct sftp_dirent *ent)
{
	struct dl_job *j;
	char *sub = sftp_path_append(d->rpath, ent->name);
	char *lsub = sftp_path_append(d->ldisp, ent->name);
	enum dl_kind kind = DLJ_FILE;
	int note = 0;

	if (sftp_attr_is_lnk(&ent->a)) {
		kind = DLJ_LINK;
	} else if (sftp_attr_is_dir(&ent->a)) {
		kind = DLJ_DIR;
	} else if (sftp_attr_is_reg(&ent->a)) {
		kind = dl_small(e, &ent->a) ? DLJ_FILE : DLJ_BIG;
		report_plan(sub, ent->a.size);
	} else {
		note = 1;
	}
	j = dl_job_new(kind, sub, ent->name, lsub);
	j->a = ent->a;
	j->have_attrs = 1;
	j->dir = d;
	j->dirfd = d->dfd;
	j->in_dir = kind == DLJ_FILE || kind == DLJ_BIG;
	j->nofollow = 1;
	j->ofl = OUTFILE_NOFOLLOW | (d->created ? OUTFILE_FRESH : 0);
	if (note) {
		/* Reported, not an error (OpenSSH's logit). */
		strvec_pushf(&j->msgs, "download \"%s\": not a regular file",
		    sub);
		j->state = DLS_DONE;
	}
	free(sub);
	free(lsub);
	return j;
}

/* The cursor reached a listed directory: its entries, then its end. */
void
dl_dir_expand(struct dl_engine *e, struct dl_job *j)
{
	struct dl_job *prev = j, *c;
	size_t i;

	for (i = 0; i < j->ls.n; i++) {
		if (!name_is_safe(j->ls.ents[i].name)) {
			continue;
		}
		c = dl_entry_job(e, j->d, &j->ls.ents[i]);
		dl_insert(e, prev, c);
		prev = c;
	}
	c = dl_job_new(DLJ_DIREND, j->rpath, j->lname, j->ldisp);
	c->d = j->d;
	c->state = DLS_DONE;
	j->d = NULL;
	dl_insert(e, prev, c);
	sftp_dirents_free(j->ls.ents, j->ls.n);
	j->ls.ents = NULL;
	j->ls.n = j->ls.alloc = 0;
	/* Names dropped as suspect were not copied (messages queued). */
	dl_done(e, j, j->ls.suspect > 0);
	e->pf_dirty = 1;
}

/* download_dir()'s end: times and mode once the files are in. */
void
dl_dir_end(struct dl_engine *e, struct dl_job *j)
{
	struct dl_dir *d = j->d;
	struct timespec ts[2];

	if (io_cancelled()) {
		return;
	}
	if (e->s->o->preserve) {
		if (d->a.flags & SSH2_FILEXFER_ATTR_ACMODTIME) {
			ts[0].tv_sec = (time_t)d->a.atime;
			ts[0].tv_nsec = 0;
			ts[1].tv_sec = (time_t)d->a.mtime;
			ts[1].tv_nsec = 0;
			if (futimens(d->dfd, ts) == -1) {
				log_error("local set times on \"%s\": %s",
				    d->ldisp, strerror(errno));
				e->errs = 1;
			}
		}
		if (fchmod(d->dfd, d->mode) == -1) {
			log_error("local chmod directory \"%s\": %s",
			    d->ldisp, strerror(errno));
			e->errs = 1;
		}
	} else if (d->created && d->mode != d->tmpmode) {
		if (fchmod(d->dfd, d->mode & ~outfile_get_umask()) == -1) {
			log_error("local chmod directory \"%s\": %s",
			    d->ldisp, strerror(errno));
			e->errs = 1;
		}
	}
}

/* A symlink in a listing (download_entry()): STAT, REALPATH for a
 * directory, which becomes a DIR job right after this one. */
int
dl_run_link(struct dl_engine *e, struct dl_job *j)
{
	struct sftp_session *s = e->s;
	struct sftp_attr a = j->a;
	struct dl_job *c;
	struct dl_dir *p;
	char *canon = NULL;
	int r;

	if ((r = sftp_do_stat(s, j->rpath, 0, &a)) != 0) {
		if (r == SCP_E_PEER) {
			log_error("stat remote: %s",
			    sftp_fx2txt(s->last_status));
			log_error("Download of file %s to %s failed",
			    j->rpath, j->ldisp);
			e->errs = 1;
			r = 0;
		}
		return r;
	}
	if (sftp_attr_is_dir(&a)) {
		if ((r = sftp_do_realpath(s, j->rpath, &canon)) != 0) {
			if (r == SCP_E_PEER) {
				log_error("download \"%s\": path "
				    "canonicalization failed", j->rpath);
				e->errs = 1;
				r = 0;
			}
			return r;
		}
		for (p = j->dir; p != NULL; p = p->parent) {
			if (strcmp(p->rpath, canon) == 0) {
				log_error("download \"%s\": directory loop, "
				    "skipped", j->rpath);
				free(canon);
				return 0;
			}
		}
		c = dl_job_new(DLJ_DIR, canon, j->lname, j->ldisp);
		free(canon);
		c->a = a;
		c->have_attrs = 1;
		c->dir = j->dir;
		c->dirfd = j->dirfd;
		c->nofollow = 1;
		dl_insert(e, j, c);
		e->pf_dirty = 1;
		return 0;
	}
	if (sftp_attr_is_reg(&a)) {
		r = download_file(s, j->rpath, &a, j->dirfd, j->lname,
		    j->ldisp, j->ofl);
		if (r > 0) {
			log_error("Download of file %s to %s failed",
			    j->rpath, j->ldisp);
			e->errs = 1;
			r = 0;
		}
		return r;
	}
	log_error("download \"%s\": not a regular file", j->rpath);
	return 0;
}
