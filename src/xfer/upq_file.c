/*
 * A small file's job (UJ_FILE, upq.c): OPEN of the temporary name (with
 * the final name's STAT and LSTAT in the same round trip), the WRITEs
 * as the budget allows (upq_budget.c), truncation, attributes, fsync and
 * CLOSE behind them, then the rename into place; the undo when a step
 * fails.  Its states are US_OPEN, US_DATA, US_CLOSE, US_RENAME, US_CLEAN
 * and US_DONE (upq_int.h); each reply advances it (upq_file_reply), and
 * the messages wait in the job for its retirement at the head.  What it
 * cannot do (a symlink's target, a refused speculative OPEN) it leaves
 * to the sequential path (redo_sync).
 */
#include "upq_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../transport/io.h"
#include "../util/buf.h"
#include "../util/err.h"
#include "../util/log.h"
#include "../util/strvec.h"
#include "../util/xmalloc.h"

/* ---- the job ---- */

static void
job_state(struct sftp_upq *q, struct ujob *j, enum ujob_state st)
{
	if (j->state == US_DATA) {
		q->ndata--;
	}
	if (st == US_DATA) {
		q->ndata++;
	}
	j->state = st;
}

/* The job's handle is (or will be) closed: room for another OPEN. */
static void
job_release_handle(struct sftp_session *s, struct ujob *j)
{
	if (j->holds) {
		j->holds = 0;
		s->upq->nhandles--;
	}
}

/* ---- sending ---- */

static int
file_send_open(struct sftp_session *s, struct ujob *j)
{
	struct sftp_attr oa;
	uint32_t pflags = SSH2_FXF_WRITE | SSH2_FXF_CREAT;
	int r = 0;

	memset(&oa, 0, sizeof(oa));
	oa.flags = SSH2_FILEXFER_ATTR_PERMISSIONS;
	oa.perm = j->src.perm & 0777;
	j->final = oa;
	if (!s->o->inplace && !j->direct) {
		j->tmppath = sftp_upload_temp_name(j->rpath, &j->src);
	}
	if (upq_dir_spec_pending(j->dir)) {
		/*
		 * The tree may not be ours (an interrupted copy's, or one
		 * that is being built now): never truncate what is there.
		 * Recorded, for the removal if the tree must go.
		 */
		pflags |= SSH2_FXF_EXCL;
		j->spec_open = 1;
		strvec_push(&s->upq->spec_files, j->rpath);
	} else if (!s->o->inplace) {
		pflags |= SSH2_FXF_TRUNC;
	}
	sftp_req_owner(s, j);
	/*
	 * As rfile_open(): the final name's STAT (its mode survives unless
	 * -p) and LSTAT (a symlink is written through) travel with the
	 * OPEN of the temporary name.
	 */
	if (j->tmppath != NULL && !j->fresh) {
		if ((r = sftp_send_stat(s, j->rpath, 0, &j->id_stat)) != 0 ||
		    (r = sftp_send_stat(s, j->rpath, 1,
		    &j->id_lstat)) != 0) {
			goto out;
		}
		j->have_stat = j->have_lstat = 1;
		j->nout += 2;
	}
	if ((r = sftp_send_open(s, j->tmppath != NULL ? j->tmppath :
	    j->rpath, pflags, &oa, &j->id_open)) != 0) {
		goto out;
	}
	j->nout++;
	j->state = US_OPEN;
	j->holds = 1;
	s->upq->nhandles++;
out:
	sftp_req_owner(s, NULL);
	return r;
}

int
upq_file_send_data(struct sftp_session *s, struct sftp_upq *q,
    struct ujob *j)
{
	struct buf *w;
	uint64_t want;
	uint32_t id;
	ssize_t n;
	int r = 0;

	if (q->blk == NULL || q->blk_len < s->write_len) {
		/* Here, not at OPEN: the limits may have come since. */
		free(q->blk);
		q->blk = xmalloc(s->write_len);
		q->blk_len = s->write_len;
	}
	sftp_req_owner(s, j);
	while (!j->local_failed && j->sent < j->size) {
		want = j->size - j->sent;
		if (want > s->write_len) {
			want = s->write_len;
		}
		if (!upq_write_room(s, q, want)) {
			goto out;
		}
		n = pread(j->fd, q->blk, (size_t)want, (off_t)j->sent);
		if (n < 0 && errno == EINTR && !io_cancelled()) {
			continue;
		}
		if (n <= 0 || (uint64_t)n < want) {
			/*
			 * A file cut short while we read it would arrive as
			 * a prefix of the old contents: a lie.
			 */
			if (n < 0) {
				upq_job_msg(j, "read local \"%s\": %s", j->lpath,
				    strerror(errno));
			} else {
				upq_job_msg(j, "read local \"%s\": file changed "
				    "size while being read", j->lpath);
			}
			j->local_failed = 1;
			break;
		}
		if ((r = sftp_req_begin(s, SSH2_FXP_WRITE, j, &id)) != 0) {
			goto out;
		}
		w = sftp_req_buf(s);
		if ((r = buf_put_string(w, j->h.h, j->h.len)) != 0 ||
		    (r = buf_put_u64(w, j->sent)) != 0) {
			r = sftp_fail(s, r, "compose write: %s",
			    scp_strerror(r));
			goto out;
		}
		if ((r = sftp_req_send_data(s, q->blk, (size_t)n)) != 0) {
			goto out;
		}
		j->sent += (uint64_t)n;
		j->nout++;
		q->nwrites++;
		q->wbytes += (uint64_t)n;
		if ((uint64_t)n < s->write_len) {
			/* Counted as small only here, where the reply's
			 * accounting (last_wid) can tell it apart. */
			j->last_wid = id;
			j->last_wlen = (uint64_t)n;
			if ((uint64_t)n < UPQ_SMALL_WRITE) {
				q->swbytes += (uint64_t)n;
			}
		}
	}
	close(j->fd);
	j->fd = -1;
	/*
	 * Truncation (in place), attributes, fsync and CLOSE go out behind
	 * the WRITEs: a handle's requests are processed in order.
	 */
	if (!j->local_failed && j->tmppath == NULL && !j->direct) {
		struct sftp_attr a;

		memset(&a, 0, sizeof(a));
		a.flags = SSH2_FILEXFER_ATTR_SIZE;
		a.size = j->sent;
		if ((r = sftp_send_fsetstat(s, &j->h, &a,
		    &j->id_trunc)) != 0) {
			goto out;
		}
		j->have_trunc = 1;
		j->nout++;
	}
	if (!j->local_failed && j->final.flags != 0) {
		if ((r = sftp_send_fsetstat(s, &j->h, &j->final,
		    &j->id_attr)) != 0) {
			goto out;
		}
		j->have_attr = 1;
		j->nout++;
	}
	if (!j->local_failed && s->o->fsync) {
		if (sftp_has_ext(s, SFTP_EXT_FSYNC)) {
			if ((r = sftp_send_fsync(s, &j->h,
			    &j->id_fsync)) != 0) {
				goto out;
			}
			j->have_fsync = 1;
			j->nout++;
		} else if (!s->fsync_warned) {
			log_debug("server does not support the "
			    "fsync@openssh.com extension");
			s->fsync_warned = 1;
		}
	}
	if ((r = sftp_send_close(s, &j->h, &j->id_close)) != 0) {
		goto out;
	}
	j->nout++;
	job_state(q, j, US_CLOSE);
out:
	sftp_req_owner(s, NULL);
	return r;
}

static int
send_remove_tmp(struct sftp_session *s, struct ujob *j)
{
	uint32_t id;
	int r;

	if ((j->tmppath == NULL && !j->direct) || io_cancelled()) {
		j->state = j->nout > 0 ? US_CLEAN : US_DONE;
		return 0;
	}
	/* Inside a temporary tree the file has its final name there:
	 * removed, so that publishing the tree does not publish it. */
	sftp_req_owner(s, j);
	r = sftp_send_path(s, SSH2_FXP_REMOVE, j->tmppath != NULL ?
	    j->tmppath : j->rpath, NULL, &id);
	sftp_req_owner(s, NULL);
	if (r == 0) {
		j->nout++;
		j->state = US_CLEAN;
	}
	return r;
}

/* Closes the job's handle and removes the file it opened, unwritten. */
static int
file_undo(struct sftp_session *s, struct ujob *j)
{
	uint32_t id;
	int r;

	sftp_req_owner(s, j);
	r = sftp_send_close(s, &j->h, &id);
	sftp_req_owner(s, NULL);
	if (r != 0) {
		return r;
	}
	j->nout++;
	return send_remove_tmp(s, j);
}

/* ---- replies ---- */

/* All of the OPEN round's replies are in. */
static int
file_opened(struct sftp_session *s, struct sftp_upq *q, struct ujob *j)
{
	uint32_t id;
	int r;

	if (!j->open_ok || j->islink || upq_dir_cancelled(j->dir)) {
		job_release_handle(s, j);
	}
	if (upq_dir_cancelled(j->dir)) {
		/*
		 * Not our tree: closed, said nothing of.  The empty file
		 * EXCL made stays when the tree is another copy's (its
		 * owner may be writing it by now: removing it could lose
		 * that); in a tree of ours up_spec.c removes everything.
		 */
		strvec_clear(&j->msgs);
		j->failed = 0;
		if (!j->open_ok) {
			j->state = US_DONE;
			return 0;
		}
		sftp_req_owner(s, j);
		r = sftp_send_close(s, &j->h, &id);
		sftp_req_owner(s, NULL);
		if (r == 0) {
			j->nout++;
			j->state = US_CLEAN;
		}
		return r;
	}
	if (!j->open_ok && j->spec_open) {
		/*
		 * Opened before the server's limits were known, in a tree
		 * now known to be ours: a server with few handles may have
		 * refused it.  The sequential path tries again and says
		 * what really went wrong.
		 */
		j->redo_sync = 1;
		j->state = US_DONE;
		return 0;
	}
	if (!j->open_ok) {
		upq_job_msg(j, "dest open \"%s\": %s", j->rpath,
		    sftp_fx2txt(j->open_code));
		j->failed = 1;
		j->state = US_DONE;
		return 0;
	}
	if (j->islink) {
		/* Rare: undo, and let the sequential path write through
		 * the link when the job reaches the head. */
		j->redo_sync = 1;
		return file_undo(s, j);
	}
	if (s->o->preserve) {
		j->final.flags = SSH2_FILEXFER_ATTR_PERMISSIONS;
		j->final.perm = j->src.perm & 0777;
		if (j->src.flags & SSH2_FILEXFER_ATTR_ACMODTIME) {
			j->final.flags |= SSH2_FILEXFER_ATTR_ACMODTIME;
			j->final.atime = j->src.atime;
			j->final.mtime = j->src.mtime;
		}
	} else if (!j->existed) {
		j->final.flags = 0;
	}
	if (j->room_later && s->vfs_dir != NULL && j->size > s->vfs_avail) {
		upq_job_msg(j, "%s: %s", j->rpath, strerror(ENOSPC));
		j->failed = 1;
		return file_undo(s, j);
	}
	job_state(q, j, US_DATA);
	return upq_file_send_data(s, q, j);
}

/* All of the CLOSE round's replies are in. */
static int
file_closed(struct sftp_session *s, struct ujob *j)
{
	int ok = !j->local_failed && j->write_code == 0 &&
	    j->trunc_code == 0 && j->close_code == 0;
	int r;

	job_release_handle(s, j);
	if (j->write_code != 0) {
		upq_job_msg(j, "write remote \"%s\": %s", j->rpath,
		    sftp_fx2txt(j->write_code));
	}
	if (j->trunc_code != 0) {
		upq_job_msg(j, "remote ftruncate \"%s\": %s", j->rpath,
		    sftp_fx2txt(j->trunc_code));
	}
	if (j->attr_code != 0) {
		/* OpenSSH reports this but keeps the file. */
		upq_job_msg(j, "remote fsetstat \"%s\": %s", j->rpath,
		    sftp_fx2txt(j->attr_code));
		j->failed = 1;
	}
	if (j->fsync_code != 0) {
		upq_job_msg(j, "remote fsync: %s", sftp_fx2txt(j->fsync_code));
		j->failed = 1;
	}
	if (j->close_code != 0) {
		upq_job_msg(j, "close remote \"%s\": %s", j->rpath,
		    sftp_fx2txt(j->close_code));
	}
	if (!ok) {
		j->failed = 1;
		return send_remove_tmp(s, j);
	}
	if (j->tmppath == NULL) {
		j->state = US_DONE;
		return 0;
	}
	if (!sftp_has_ext(s, SFTP_EXT_POSIX_RENAME)) {
		/* REMOVE + RENAME, not atomic anyway: the plain path. */
		r = sftp_do_rename(s, j->tmppath, j->rpath);
		if (r != 0 && r != SCP_E_PEER) {
			return r;
		}
		if (r == SCP_E_PEER) {
			upq_job_msg(j, "rename \"%s\" to \"%s\": %s", j->tmppath,
			    j->rpath, sftp_fx2txt(s->last_status));
			j->failed = 1;
			return send_remove_tmp(s, j);
		}
		j->state = US_DONE;
		return 0;
	}
	sftp_req_owner(s, j);
	r = sftp_send_posix_rename(s, j->tmppath, j->rpath, &j->id_rename);
	sftp_req_owner(s, NULL);
	if (r == 0) {
		j->nout++;
		j->state = US_RENAME;
	}
	return r;
}

int
upq_file_reply(struct sftp_session *s, struct sftp_upq *q,
    struct ujob *j, uint32_t id, uint8_t type, struct buf *b)
{
	struct sftp_attr a;
	uint32_t code;
	int r;

	j->nout--;
	if (j->state == US_OPEN) {
		if (j->have_stat && id == j->id_stat) {
			r = sftp_take_attrs(s, type, b, &a);
			if (r == 0 && sftp_attr_is_reg(&a)) {
				j->existed = 1;
				if (!s->o->preserve) {
					j->final.perm = a.perm & 0777;
				}
			}
		} else if (j->have_lstat && id == j->id_lstat) {
			r = sftp_take_attrs(s, type, b, &a);
			if (r == 0 && sftp_attr_is_lnk(&a)) {
				j->islink = 1;
			}
		} else if (id == j->id_open) {
			r = sftp_take_handle(s, type, b, &j->h);
			j->open_ok = r == 0;
			j->open_code = r == 0 ? 0 : s->last_status;
		} else {
			buf_free(b);
			return sftp_fail(s, SCP_E_FORMAT,
			    "internal error: unexpected reply %u", id);
		}
		if (r != 0 && r != SCP_E_PEER) {
			return r;
		}
		return j->nout == 0 ? file_opened(s, q, j) : 0;
	}
	if ((r = upq_status_code(s, type, b, &code)) != 0) {
		return r;
	}
	switch (j->state) {
	case US_DATA:
	case US_CLOSE:
		if (j->have_trunc && id == j->id_trunc) {
			j->trunc_code = code;
		} else if (j->have_attr && id == j->id_attr) {
			j->attr_code = code;
		} else if (j->have_fsync && id == j->id_fsync) {
			j->fsync_code = code;
		} else if (j->state == US_CLOSE && id == j->id_close) {
			j->close_code = code;
		} else {
			/* A WRITE: all are a block long but the last. */
			q->nwrites--;
			if (j->last_wlen > 0 && id == j->last_wid) {
				q->wbytes -= j->last_wlen;
				if (j->last_wlen < UPQ_SMALL_WRITE) {
					q->swbytes -= j->last_wlen;
				}
			} else {
				q->wbytes -= s->write_len;
			}
			if (code != 0 && j->write_code == 0) {
				j->write_code = code;
			}
		}
		if (j->state == US_CLOSE && j->nout == 0) {
			return file_closed(s, j);
		}
		return 0;
	case US_RENAME:
		if (code != 0) {
			upq_job_msg(j, "rename \"%s\" to \"%s\": %s", j->tmppath,
			    j->rpath, sftp_fx2txt(code));
			j->failed = 1;
			return send_remove_tmp(s, j);
		}
		j->state = US_DONE;
		return 0;
	case US_CLEAN:
		if (j->nout == 0) {
			j->state = US_DONE;
		}
		return 0;
	default:
		return sftp_fail(s, SCP_E_FORMAT,
		    "internal error: reply %u in state %d", id, j->state);
	}
}


/* ---- what the walk queues (up_int.h) ---- */

int
sftp_upq_file(struct sftp_session *s, const char *lpath, const char *rpath,
    const struct stat *known, int fresh, struct upq_dir *dir,
    const char *failmsg)
{
	struct sftp_upq *q = upq_get(s);
	struct ujob *j;
	struct stat st;
	int fd, r, st_ok, st_errno = 0;

	if (upq_spec_skip(q)) {
		return upq_pump(s, q, 0);
	}
	/* stat first: never open a FIFO or device (it may block).  The
	 * walk's own stat serves (one syscall per file less). */
	if (known != NULL) {
		st = *known;
		st_ok = 1;
	} else {
		st_ok = stat(lpath, &st) == 0;
		st_errno = errno;
	}
	if (st_ok && S_ISREG(st.st_mode) &&
	    ((uint64_t)st.st_size > upq_small_file_max(s) || s->o->resume)) {
		j = upq_job_new(s, UJ_SYNCFILE);
		j->lpath = xstrdup(lpath);
		j->rpath = xstrdup(rpath);
		j->failmsg = failmsg != NULL ? xstrdup(failmsg) : NULL;
		j->fresh = fresh != 0;
		upq_job_set_dir(j, dir);
		return upq_pump(s, q, 0);
	}
	j = upq_job_new(s, UJ_FILE);
	j->lpath = xstrdup(lpath);
	j->rpath = xstrdup(rpath);
	j->failmsg = failmsg != NULL ? xstrdup(failmsg) : NULL;
	j->fresh = fresh != 0;
	j->direct = fresh == SFTP_UPQ_DIRECT;
	upq_job_set_dir(j, dir);
	j->failed = 1;		/* until shown otherwise */
	if (!st_ok) {
		upq_job_msg(j, "stat local \"%s\": %s", lpath,
		    strerror(st_errno));
		return upq_pump(s, q, 0);
	}
	if (!S_ISREG(st.st_mode)) {
		upq_job_msg(j, "local \"%s\" is not a regular file", lpath);
		return upq_pump(s, q, 0);
	}
	/*
	 * O_NONBLOCK in case it was swapped for a FIFO since the stat;
	 * it means nothing to the regular file fstat then confirms.
	 */
	if ((fd = open(lpath, O_RDONLY | O_NONBLOCK | O_NOCTTY)) == -1) {
		upq_job_msg(j, "open local \"%s\": %s", lpath, strerror(errno));
		return upq_pump(s, q, 0);
	}
	j->fd = fd;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		upq_job_msg(j, "local \"%s\" is not a regular file", lpath);
		return upq_pump(s, q, 0);
	}
	sftp_attr_from_stat(&j->src, &st);
	j->size = (uint64_t)st.st_size;
	/*
	 * Fail early on a full remote disk.  A directory we just made is on
	 * its parent's filesystem: the answer already asked is reused.
	 */
	if (!s->o->inplace && upq_dir_spec_pending(j->dir)) {
		/* The tree's statvfs is on its way with its MKDIR. */
		j->room_later = 1;
	} else if (!s->o->inplace) {
		if (fresh && s->vfs_dir != NULL) {
			if (j->size > s->vfs_avail) {
				upq_job_msg(j, "%s: %s", rpath, strerror(ENOSPC));
				return upq_pump(s, q, 0);
			}
		} else if ((r = sftp_upload_room(s, rpath, j->size)) != 0) {
			if (r < 0) {
				return upq_abort(s, q, r);
			}
			/* Printed now: only the first file of a directory
			 * asks, so nothing of it is queued before. */
			j->failed = 1;
			return upq_pump(s, q, 0);
		}
	}
	j->failed = 0;
	if ((r = file_send_open(s, j)) != 0) {
		return upq_abort(s, q, r);
	}
	return upq_pump(s, q, 0);
}
