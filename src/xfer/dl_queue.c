/*
 * The download queue (see dl_int.h, "Many files in flight"): the jobs'
 * life (new, linked, done, freed), the bounds, starting jobs from the
 * cursor as room allows, listing directories ahead of it, running the
 * sequential jobs at the head, retiring jobs at the head with their
 * messages, the abort after a fatal error, and the loop that routes each
 * reply to the job that sent the request (download_pipelined).
 * What a file or a directory job does is in dl_qfile.c and dl_qdir.c.
 */
#include "dl_int.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../transport/io.h"
#include "../util/buf.h"
#include "../util/err.h"
#include "../util/log.h"
#include "../util/report.h"
#include "../util/strvec.h"
#include "../util/xmalloc.h"

struct dl_job *
dl_job_new(enum dl_kind kind, const char *rpath, const char *lname,
    const char *ldisp)
{
	struct dl_job *j = xcalloc(1, sizeof(*j));

	j->magic = DL_MAGIC;
	j->kind = kind;
	j->state = DLS_NEW;
	j->rpath = xstrdup(rpath);
	j->lname = xstrdup(lname);
	j->ldisp = xstrdup(ldisp);
	j->dirfd = AT_FDCWD;
	strvec_init(&j->msgs);
	return j;
}

static void
dl_dir_free(struct dl_dir *d)
{
	if (d == NULL) {
		return;
	}
	if (d->dfd != -1) {
		close(d->dfd);
	}
	free(d->rpath);
	free(d->ldisp);
	free(d);
}

static void
dl_job_free(struct dl_job *j)
{
	free(j->rpath);
	free(j->lname);
	free(j->ldisp);
	free(j->data);
	strvec_clear(&j->msgs);
	sftp_dirents_free(j->ls.ents, j->ls.n);
	dl_dir_free(j->d);
	free(j);
}

/* Links `j` after `prev` (NULL: at the tail). */
void
dl_insert(struct dl_engine *e, struct dl_job *prev, struct dl_job *j)
{
	if (prev == NULL) {
		prev = e->tail;
	}
	if (prev == NULL) {
		e->head = e->tail = j;
	} else {
		j->next = prev->next;
		prev->next = j;
		if (e->tail == prev) {
			e->tail = j;
		}
	}
	if (e->cursor == NULL) {
		e->cursor = j;
	}
	e->ops++;
}

void
dl_done(struct dl_engine *e, struct dl_job *j, int failed)
{
	if (failed) {
		j->failed = 1;
		if (j->in_dir) {
			strvec_pushf(&j->msgs, "Download of file %s to %s "
			    "failed", j->rpath, j->ldisp);
		}
	}
	j->state = DLS_DONE;
	e->ops++;
}

/*
 * The engine's bounds from the session's limits.  They are taken before
 * the first file starts (its blocks are counted in read_len); listings
 * need none and go on while the limits reply is on its way.  Before,
 * the defaults only sort listed files into small and big.
 */
static void
dl_bounds(struct dl_engine *e)
{
	struct sftp_session *s = e->s;
	uint32_t nb;

	e->budget = (uint64_t)s->nreq * s->read_len;
	if (e->budget > DL_MAX_BYTES) {
		e->budget = DL_MAX_BYTES;
	}
	nb = s->nreq < DL_MAX_BLK ? s->nreq : DL_MAX_BLK;
	e->small_max = (uint64_t)nb * s->read_len;
	if (e->small_max > DL_SMALL_MAX) {
		e->small_max = DL_SMALL_MAX;
	}
	/* One handle per file in flight, plus listings and a big file. */
	if (s->max_handles != 0 && s->max_handles < DL_MAX_JOBS +
	    DL_MAX_LISTING + 2) {
		e->maxjobs = s->max_handles > DL_MAX_LISTING + 3 ?
		    s->max_handles - DL_MAX_LISTING - 2 : 1;
	} else {
		e->maxjobs = DL_MAX_JOBS;
	}
}

/* dl_bounds() again once the limits are here (waits for them). */
static int
dl_limits(struct dl_engine *e)
{
	int r;

	if (e->limited) {
		return 0;
	}
	if ((r = sftp_limits(e->s)) != 0) {
		return r;
	}
	e->limited = 1;
	dl_bounds(e);
	return 0;
}

static int
dl_room(const struct dl_engine *e, const struct dl_job *j)
{
	uint64_t size = (j->a.flags & SSH2_FILEXFER_ATTR_SIZE) ?
	    j->a.size : 0;

	if (e->bytes == 0) {
		return 1;
	}
	return e->bytes + size + 1 <= e->budget &&
	    e->reqs + DL_MAX_BLK + 3 <= DL_MAX_REQS;
}

/* Starts what room allows: parked files first, then from the cursor. */
static int
dl_start(struct dl_engine *e)
{
	struct sftp_session *s = e->s;
	struct dl_job *j;
	int r;

	if (e->head != NULL && e->head->state == DLS_SYNC) {
		/* Let the READs in flight drain for it. */
		return 0;
	}
	for (j = e->head; e->nparked > 0 && j != NULL && j != e->cursor;
	    j = j->next) {
		if (j->state != DLS_PARKED) {
			continue;
		}
		if (!dl_room(e, j)) {
			return 0;
		}
		e->nparked--;
		if ((r = dl_file_open(e, j)) != 0) {
			return r;
		}
	}
	for (;;) {
		if (e->cursor == NULL) {
			dl_feed(e);
			if (e->cursor == NULL) {
				return 0;
			}
		}
		if (e->npassed >= e->maxjobs || io_cancelled()) {
			return 0;
		}
		j = e->cursor;
		switch (j->kind) {
		case DLJ_FILE:
			if (j->state != DLS_NEW) {
				break;
			}
			/* (The limits may lower maxjobs.) */
			if ((r = dl_limits(e)) != 0) {
				return r;
			}
			if (e->npassed >= e->maxjobs) {
				return 0;
			}
			j->started = 1;
			if (!j->have_attrs) {
				sftp_req_owner(s, j);
				r = sftp_send_stat(s, j->rpath, 0, &j->cid);
				sftp_req_owner(s, NULL);
				if (r != 0) {
					return r;
				}
				j->nout++;
				j->state = DLS_STAT;
			} else if (!dl_room(e, j)) {
				j->started = 0;
				return 0;
			} else if ((r = dl_file_open(e, j)) != 0) {
				return r;
			}
			break;
		case DLJ_DIR:
			if (!j->started && (r = dl_dir_start(e, j)) != 0) {
				return r;
			}
			if (j->state == DLS_LIST) {
				/* Its entries go right after it. */
				return 0;
			}
			if (j->state == DLS_LISTED) {
				dl_dir_expand(e, j);
			}
			break;
		case DLJ_DIREND:
			break;
		default:
			if (j->state == DLS_NEW) {
				j->state = DLS_SYNC;
				e->ops++;
			}
			if (j->state == DLS_SYNC) {
				/* Runs at the head; may add jobs after
				 * itself. */
				return 0;
			}
			break;
		}
		j->passed = 1;
		e->npassed++;
		e->cursor = j->next;
		e->ops++;
	}
}

/* Lists directories ahead of the cursor while the files go. */
static int
dl_prefetch(struct dl_engine *e)
{
	struct dl_job *j;
	size_t n;
	int r;

	if (!e->pf_dirty || e->cursor == NULL || io_cancelled()) {
		return 0;
	}
	e->pf_dirty = 0;
	for (j = e->cursor, n = 0; j != NULL && n < DL_PF_SCAN &&
	    e->nlisting < DL_MAX_LISTING; j = j->next, n++) {
		if (j->kind == DLJ_DIR && !j->started &&
		    (r = dl_dir_start(e, j)) != 0) {
			return r;
		}
	}
	return 0;
}

static int
dl_run_sync(struct dl_engine *e, struct dl_job *j)
{
	int r;

	switch (j->kind) {
	case DLJ_LINK:
		return dl_run_link(e, j);
	case DLJ_TOP:
		return dl_run_top(e, j);
	default:
		/* A big file, or a small one that changed under us. */
		r = download_file(e->s, j->rpath, j->have_attrs ? &j->a :
		    NULL, j->dirfd, j->lname, j->ldisp, j->ofl);
		if (r > 0) {
			if (j->in_dir) {
				log_error("Download of file %s to %s failed",
				    j->rpath, j->ldisp);
			}
			e->errs = 1;
			r = 0;
		}
		return r;
	}
}

/* Retires finished jobs from the head, printing their messages, and
 * runs a sequential job once it is at the head with no READ in flight. */
static int
dl_retire(struct dl_engine *e)
{
	struct dl_job *j;
	size_t i;
	int r;

	while ((j = e->head) != NULL) {
		if (j->state == DLS_SYNC) {
			if (e->bytes != 0 || j->nout != 0) {
				return 0;
			}
			if ((r = dl_run_sync(e, j)) != 0) {
				return r;
			}
			j->state = DLS_DONE;
			/* download_file() reported it (report.h). */
			j->synced = 1;
			if (!j->passed) {
				j->passed = 1;
				e->npassed++;
				e->cursor = j->next;
			}
			e->ops++;
			continue;
		}
		if (j->state != DLS_DONE || j->nout != 0 || !j->passed) {
			return 0;
		}
		if (j->meter && j->size != 0 && !j->failed) {
			sftp_meter_start(e->s, j->rpath, j->size);
			sftp_meter_update(e->s, j->size);
			sftp_meter_end(e->s);
		}
		for (i = 0; i < j->msgs.n; i++) {
			log_error("%s", j->msgs.v[i]);
		}
		if (j->kind == DLJ_FILE && !j->synced) {
			report_end(j->rpath, j->ldisp, j->size, j->failed ?
			    0 : j->size, j->failed ? REPORT_FAILED : REPORT_OK,
			    NULL);
		}
		if (j->failed) {
			e->errs = 1;
		}
		if (j->kind == DLJ_DIREND) {
			dl_dir_end(e, j);
		}
		e->head = j->next;
		if (e->tail == j) {
			e->tail = NULL;
		}
		e->npassed--;
		e->ops++;
		dl_job_free(j);
	}
	return 0;
}

/*
 * The session broke or we were interrupted: what finished is reported
 * in order, the file being transferred is named (as download_stopped()
 * does; its data never reached the disk), the rest is dropped.
 */
static void
dl_abort(struct dl_engine *e, int r)
{
	struct dl_job *j;
	int named = 0, inorder = 1;
	size_t i;

	while ((j = e->head) != NULL) {
		if (j->state != DLS_DONE || !j->passed || j->nout != 0) {
			inorder = 0;
		}
		if (inorder) {
			for (i = 0; i < j->msgs.n; i++) {
				log_error("%s", j->msgs.v[i]);
			}
		} else if (!named && j->state == DLS_READ) {
			named = 1;
			dl_file_stopped(e, j, r);
		}
		if (j->nout != 0) {
			/* Replies we will not read: the session is out of
			 * step from here on. */
			sftp_req_forget(e->s, j);
			e->s->dead = 1;
		}
		e->head = j->next;
		dl_job_free(j);
	}
	e->tail = e->cursor = NULL;
}

static int
dl_dispatch(struct dl_engine *e, struct dl_job *j, uint32_t id,
    uint8_t type, struct buf *b)
{
	e->ops++;
	if (j->kind == DLJ_DIR) {
		return dl_dir_reply(e, j, id, type, b);
	}
	return dl_file_reply(e, j, id, type, b);
}

/*
 * Copies the glob matches `g` of one operand with many files in flight.
 * 0 all copied, 1 errors reported, <0 session unusable.
 */
int
download_pipelined(struct sftp_session *s, const struct strvec *g,
    struct sftp_srcinfo *pre, const char *target, int dst_is_dir, int dfd)
{
	struct dl_engine e;
	struct buf *b;
	const void *owner;
	struct dl_job *j;
	unsigned long ops;
	uint32_t id;
	uint8_t type;
	int r;

	memset(&e, 0, sizeof(e));
	e.s = s;
	e.g = g;
	e.pre = pre;
	e.target = target;
	e.dst_is_dir = dst_is_dir;
	e.dfd = dfd;
	/* From the defaults until the limits are known (dl_limits). */
	dl_bounds(&e);
	for (;;) {
		ops = e.ops;
		if (io_cancelled()) {
			r = SCP_E_INTR;
			break;
		}
		if ((r = dl_retire(&e)) != 0 || (r = dl_start(&e)) != 0 ||
		    (r = dl_prefetch(&e)) != 0) {
			break;
		}
		if (pre != NULL && pre->pend.n != 0 &&
		    (r = sftp_pend_collect(s, &pre->pend)) != 0) {
			/*
			 * The end of the glob's last listing, answered
			 * before the requests just sent: no round trip of
			 * its own.
			 */
			break;
		}
		if (e.head == NULL && e.gi >= g->n) {
			break;
		}
		if (sftp_req_count(s, NULL) == 0) {
			if (e.ops != ops) {
				continue;
			}
			r = sftp_fail(s, SCP_E_FATAL,
			    "internal error: download queue stalled");
			break;
		}
		if ((r = sftp_reply_any(s, &owner, &id, &type, &b)) != 0) {
			break;
		}
		j = (struct dl_job *)owner;
		if (j == NULL || j->magic != DL_MAGIC) {
			buf_free(b);
			r = sftp_fail(s, SCP_E_FATAL,
			    "internal error: reply %u for no download", id);
			break;
		}
		if ((r = dl_dispatch(&e, j, id, type, b)) != 0) {
			break;
		}
	}
	if (r != 0) {
		dl_abort(&e, r);
		return r;
	}
	return e.errs;
}
