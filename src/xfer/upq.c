/*
 * Uploads of many files in flight (issue 5, docs/protocol-sftp.md "Many
 * files in flight"): the queue of jobs.
 *
 * OpenSSH's client finishes one file before it starts the next: STAT,
 * OPEN, WRITEs, CLOSE, each waiting for its reply, about four round
 * trips per file.  The server (sftp-server) processes requests strictly
 * in order, and SFTP lets any number be outstanding, so here each file
 * is a job whose requests go out as soon as what they depend on is
 * known: OPEN at once, the WRITEs and CLOSE when the HANDLE arrives, the
 * rename when CLOSE succeeded (upq_file.c).  Hundreds of files are in
 * flight, and a tree costs a few round trips in all.
 *
 * Jobs sit in one FIFO queue in walk order.  Replies advance any job
 * (upq_pump dispatches them by owner); only the job at the head retires,
 * so messages and the count of errors come out in walk order, as the
 * sequential code printed them.  Work that needs the sequential code
 * (big files, --resume, a target that is a symlink, a directory's
 * attributes) is a job run synchronously when it reaches the head; the
 * requests of later jobs stay in flight meanwhile (reply.c files their
 * replies).
 *
 * Here: the jobs and directory nodes, the head, the pump, and the jobs
 * the walk queues that are not files (MKDIR, SETSTAT, NOTE, OPEND,
 * PUBLISH, RMDIR).  The bounds are upq_budget.c's; nothing of a file is
 * kept in memory after its WRITE is sent.
 */
#include "upq_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../transport/io.h"
#include "../util/buf.h"
#include "../util/err.h"
#include "../util/log.h"
#include "../util/report.h"
#include "../util/strvec.h"
#include "../util/xmalloc.h"

/* ---- jobs ---- */

void
upq_dir_unref(struct upq_dir *d)
{
	struct upq_dir *p;

	while (d != NULL && --d->refs == 0) {
		p = d->parent;
		free(d);
		d = p;
	}
}

enum dir_mark { DM_FAILED, DM_CANCELLED, DM_PENDING };

/* 1 when `d` or a directory above it carries mark `m`. */
static int
dir_marked(const struct upq_dir *d, enum dir_mark m)
{
	for (; d != NULL; d = d->parent) {
		if (m == DM_FAILED ? d->failed : m == DM_CANCELLED ?
		    d->cancelled : d->spec_pending) {
			return 1;
		}
	}
	return 0;
}

/* Could not be created (its MKDIR or one above failed). */
static int
dir_failed(const struct upq_dir *d)
{
	return dir_marked(d, DM_FAILED);
}

/* Inside a speculative tree that turned out not ours. */
int
upq_dir_cancelled(const struct upq_dir *d)
{
	return dir_marked(d, DM_CANCELLED);
}

/* Inside a speculative tree not decided yet. */
int
upq_dir_spec_pending(const struct upq_dir *d)
{
	return dir_marked(d, DM_PENDING);
}


static void
job_free(struct ujob *j)
{
	if (j->fd != -1) {
		close(j->fd);
	}
	upq_dir_unref(j->dir);
	free(j->lpath);
	free(j->rpath);
	free(j->tmppath);
	free(j->failmsg);
	strvec_clear(&j->msgs);
	free(j);
}

static void
job_vmsg(struct ujob *j, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
job_vmsg(struct ujob *j, const char *fmt, va_list ap)
{
	char *m;

	if (vasprintf(&m, fmt, ap) == -1) {
		m = NULL;
	}
	strvec_push(&j->msgs, m != NULL ? m : "out of memory");
	free(m);
}

void
upq_job_msg(struct ujob *j, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	job_vmsg(j, fmt, ap);
	va_end(ap);
}

struct sftp_upq *
upq_get(struct sftp_session *s)
{
	if (s->upq == NULL) {
		s->xfer_free = sftp_upq_free;
		s->upq = xcalloc(1, sizeof(*s->upq));
		strvec_init(&s->upq->spec_files);
		strvec_init(&s->upq->spec_dirs);
	}
	return s->upq;
}

struct ujob *
upq_job_new(struct sftp_session *s, enum ujob_kind kind)
{
	struct sftp_upq *q = upq_get(s);
	struct ujob *j = xcalloc(1, sizeof(*j));

	j->kind = kind;
	j->state = US_DONE;
	j->fd = -1;
	strvec_init(&j->msgs);
	/* Whatever the speculative walk queues belongs to its tree. */
	if (q->spec_dir != NULL) {
		j->dir = q->spec_dir;
		j->dir->refs++;
	}
	if (q->tail != NULL) {
		q->tail->next = j;
	} else {
		q->head = j;
	}
	q->tail = j;
	q->njobs++;
	return j;
}

/* Drops every job (dead session, interrupt). */
static void
upq_clear(struct sftp_session *s, struct sftp_upq *q)
{
	struct ujob *j;

	while ((j = q->head) != NULL) {
		q->head = j->next;
		sftp_req_forget(s, j);
		job_free(j);
	}
	q->tail = NULL;
	q->njobs = q->ndata = q->nwrites = q->nhandles = 0;
	q->wbytes = q->swbytes = 0;
}

/* ---- replies ---- */

int
upq_status_code(struct sftp_session *s, uint8_t type, struct buf *b,
    uint32_t *code)
{
	int r = sftp_take_status(s, type, b);

	if (r == 0 || r == SCP_E_PEER) {
		*code = r == 0 ? 0 : s->last_status;
		return 0;
	}
	return r;
}

static int
mkdir_reply(struct sftp_session *s, struct ujob *j, uint8_t type,
    struct buf *b)
{
	uint32_t code;
	int r;

	j->nout--;
	if ((r = upq_status_code(s, type, b, &code)) != 0) {
		return r;
	}
	if (code != 0 && !upq_dir_cancelled(j->dir)) {
		upq_job_msg(j, "remote mkdir \"%s\": %s", j->rpath,
		    sftp_fx2txt(code));
		j->failed = 1;
		j->dir->failed = 1;
	}
	j->state = US_DONE;
	return 0;
}

/* ---- the head ---- */

/* Runs a head job that needs the sequential code.  <0 is fatal. */
static int
head_run(struct sftp_session *s, struct ujob *j)
{
	int r;

	switch (j->kind) {
	case UJ_SYNCFILE:
		if (dir_failed(j->dir)) {
			return 0;
		}
		r = sftp_upload_file_sync(s, j->lpath, j->rpath, j->fresh);
		if (r < 0) {
			return r;
		}
		j->failed = r > 0;
		return 0;
	case UJ_PUBLISH:
		r = sftp_do_rename(s, j->lpath, j->rpath);
		if (r == SCP_E_PEER) {
			log_error("rename \"%s\" to \"%s\": %s", j->lpath,
			    j->rpath, sftp_fx2txt(s->last_status));
			j->failed = 1;
			return 0;
		}
		return r;
	case UJ_SETSTAT:
		if (dir_failed(j->dir)) {
			return 0;
		}
		r = sftp_do_setstat(s, j->rpath, &j->src);
		if (r == SCP_E_PEER) {
			log_error("remote setstat \"%s\": %s", j->rpath,
			    sftp_fx2txt(s->last_status));
			j->failed = 1;
			return 0;
		}
		return r;
	default:
		return 0;
	}
}

/* Drops the head job. */
static void
head_pop(struct sftp_upq *q)
{
	struct ujob *j = q->head;

	q->head = j->next;
	if (q->head == NULL) {
		q->tail = NULL;
	}
	q->njobs--;
	job_free(j);
}

/* Retires the head job: its messages, its verdict. */
static int
head_retire(struct sftp_session *s, struct sftp_upq *q)
{
	struct ujob *j = q->head;
	size_t i;
	int r = 0, quiet;

	if ((r = upq_spec_settle(s, j)) != 0) {
		return r;
	}
	if (upq_dir_cancelled(j->dir)) {
		/* Queued by a speculative walk whose tree was not ours: the
		 * walk is done again the right way (up_spec.c). */
		head_pop(q);
		return 0;
	}
	if (j->kind == UJ_FILE && j->redo_sync) {
		j->kind = UJ_SYNCFILE;
	}
	if ((r = head_run(s, j)) < 0) {
		return r;
	}
	/* Inside a directory that could not be made: said once. */
	quiet = j->kind != UJ_NOTE && j->kind != UJ_OPEND &&
	    (j->kind == UJ_MKDIR ? dir_failed(j->dir->parent) :
	    dir_failed(j->dir));
	if (!quiet) {
		for (i = 0; i < j->msgs.n; i++) {
			log_error("%s", j->msgs.v[i]);
		}
	}
	if (j->kind == UJ_OPEND) {
		if (q->op_errs > 0 || j->opend_errs) {
			if (j->failmsg != NULL) {
				log_error("%s", j->failmsg);
			}
			j->failed = 1;
		}
		q->op_errs = 0;
	} else if (j->failed) {
		if (!quiet && j->failmsg != NULL) {
			log_error("%s", j->failmsg);
		}
		q->op_errs++;
	}
	if (j->failed) {
		q->errs++;
	}
	if (s->o->progress && j->kind == UJ_FILE && !j->failed) {
		sftp_meter_start(s, j->lpath, j->size);
		sftp_meter_update(s, j->size);
		sftp_meter_end(s);
	}
	if (j->kind == UJ_FILE) {
		report_end(j->lpath, j->rpath, j->size, j->failed ? 0 : j->size,
		    j->failed ? REPORT_FAILED : REPORT_OK, NULL);
	} else if (j->kind == UJ_NOTE && j->lpath != NULL) {
		report_end(j->lpath, NULL, 0, 0, REPORT_FAILED, NULL);
	}
	head_pop(q);
	return 0;
}


/* An interrupted or broken queue: say which file, drop the rest. */
int
upq_abort(struct sftp_session *s, struct sftp_upq *q, int r)
{
	struct ujob *j;

	for (j = q->head; j != NULL; j = j->next) {
		if (j->kind == UJ_FILE && j->state != US_DONE &&
		    !upq_dir_cancelled(j->dir)) {
			log_error("upload \"%s\" to \"%s\" interrupted",
			    j->lpath, j->rpath);
			break;
		}
	}
	upq_clear(s, q);
	return r;
}

/*
 * Whether a reply can be taken without waiting while the walk goes on
 * (upq_pump with room left).  On a long link the first files' HANDLEs
 * come back while later ones are still being opened here (the batch
 * goes out every SFTP_OBUF_HOLD_US, send.c): their data should follow at
 * once, not after the walk.  The descriptor is looked at once per write
 * of the batch, not once per file; short links keep the walk undisturbed.
 */
static int
upq_early(struct sftp_session *s, struct sftp_upq *q)
{
	if (!sftp_rtt_long(s)) {
		return 0;
	}
	if (sftp_msg_buffered(s)) {
		return 1;
	}
	if (q->seen_flush == s->nflush) {
		return 0;
	}
	q->seen_flush = s->nflush;
	/* < 0: the session died, which the caller's loop reports. */
	return sftp_read_ready(s) != 0;
}

/*
 * Advances the queue until there is room for one more job (`drain`
 * zero) or it is empty; replies already here are taken too
 * (upq_early).  0, or <0 when the session broke or we were interrupted
 * (queue dropped).
 */
int
upq_pump(struct sftp_session *s, struct sftp_upq *q, int drain)
{
	struct ujob *j;
	const void *owner;
	struct buf *b;
	uint32_t id;
	uint8_t type;
	int r;

	for (;;) {
		if (io_cancelled()) {
			return upq_abort(s, q, SCP_E_INTR);
		}
		if (s->dead) {
			return upq_abort(s, q, SCP_E_CLOSED);
		}
		while (q->head != NULL && (q->head->state == US_DONE)) {
			if ((r = head_retire(s, q)) != 0) {
				return upq_abort(s, q, r);
			}
			if (io_cancelled()) {
				return upq_abort(s, q, SCP_E_INTR);
			}
		}
		if (q->head == NULL || (!drain && upq_room(s, q) &&
		    !upq_early(s, q))) {
			return 0;
		}
		for (j = q->head; j != NULL && q->ndata > 0 &&
		    upq_write_room(s, q, 1); j = j->next) {
			if (j->state == US_DATA &&
			    (r = upq_file_send_data(s, q, j)) != 0) {
				return upq_abort(s, q, r);
			}
		}
		if (sftp_req_count(s, NULL) == 0) {
			return upq_abort(s, q, sftp_fail(s, SCP_E_FATAL,
			    "internal error: upload queue stalled"));
		}
		if ((r = sftp_reply_any(s, &owner, &id, &type, &b)) != 0) {
			return upq_abort(s, q, r);
		}
		for (j = q->head; j != NULL && (const void *)j != owner;
		    j = j->next) {
			;
		}
		if (j == NULL) {
			/* Left behind by a sequential call that failed. */
			buf_free(b);
			continue;
		}
		if ((r = upq_spec_settle(s, j)) != 0) {
			buf_free(b);
			return upq_abort(s, q, r);
		}
		if (j->kind == UJ_RMDIR) {
			/* Best effort: an error changes nothing. */
			buf_free(b);
			if (--j->nout == 0) {
				j->state = US_DONE;
			}
			r = 0;
		} else if (j->kind == UJ_MKDIR) {
			r = mkdir_reply(s, j, type, b);
		} else if (j->kind == UJ_FILE) {
			r = upq_file_reply(s, q, j, id, type, b);
		} else {
			buf_free(b);
			r = sftp_fail(s, SCP_E_FATAL,
			    "internal error: reply %u for job kind %d", id,
			    j->kind);
		}
		if (r != 0 && r != SCP_E_PEER) {
			return upq_abort(s, q, r);
		}
	}
}

/* ---- what the walk queues (up_int.h) ---- */

struct upq_dir *
sftp_upq_mkdir(struct sftp_session *s, const char *rpath,
    const struct sftp_attr *a, struct upq_dir *parent, int *rc)
{
	struct sftp_upq *q = upq_get(s);
	struct upq_dir *d = xcalloc(1, sizeof(*d));
	struct ujob *j;
	uint32_t id;
	int r;

	d->refs = 2;		/* the caller's and the job's */
	if (parent == NULL) {
		/* At the top of a speculative tree: inside it. */
		parent = q->spec_dir;
	}
	d->parent = parent;
	if (parent != NULL) {
		parent->refs++;
	}
	if (upq_spec_skip(q)) {
		d->refs = 1;
		d->cancelled = 1;
		*rc = upq_pump(s, q, 0);
		return d;
	}
	if (upq_dir_spec_pending(d)) {
		strvec_push(&q->spec_dirs, rpath);
	}
	j = upq_job_new(s, UJ_MKDIR);
	upq_dir_unref(j->dir);
	j->dir = d;
	j->rpath = xstrdup(rpath);
	sftp_req_owner(s, j);
	r = sftp_send_path(s, SSH2_FXP_MKDIR, rpath, a, &id);
	sftp_req_owner(s, NULL);
	if (r == 0) {
		j->nout = 1;
		j->state = US_OPEN;
		r = upq_pump(s, q, 0);
	} else {
		r = upq_abort(s, q, r);
	}
	*rc = r;
	return d;
}

void
sftp_upq_dir_release(struct upq_dir *d)
{
	upq_dir_unref(d);
}

void
upq_job_set_dir(struct ujob *j, struct upq_dir *dir)
{
	if (dir == NULL) {
		return;		/* keeps job_new's (the speculative tree) */
	}
	upq_dir_unref(j->dir);
	j->dir = dir;
	dir->refs++;
}


int
sftp_upq_rmdir(struct sftp_session *s, const char *path)
{
	struct ujob *j = upq_job_new(s, UJ_RMDIR);
	uint32_t id;
	int r;

	j->rpath = xstrdup(path);
	sftp_req_owner(s, j);
	r = sftp_send_path(s, SSH2_FXP_RMDIR, path, NULL, &id);
	sftp_req_owner(s, NULL);
	if (r != 0) {
		return upq_abort(s, s->upq, r);
	}
	j->nout = 1;
	j->state = US_OPEN;
	return upq_pump(s, s->upq, 0);
}


int
sftp_upq_publish(struct sftp_session *s, const char *tmp, const char *dst)
{
	struct ujob *j = upq_job_new(s, UJ_PUBLISH);

	j->lpath = xstrdup(tmp);
	j->rpath = xstrdup(dst);
	return upq_pump(s, s->upq, 0);
}

int
sftp_upq_setstat(struct sftp_session *s, const char *rpath,
    const struct sftp_attr *a, struct upq_dir *dir)
{
	struct ujob *j;

	if (upq_spec_skip(upq_get(s))) {
		return upq_pump(s, s->upq, 0);
	}
	j = upq_job_new(s, UJ_SETSTAT);
	j->rpath = xstrdup(rpath);
	j->src = *a;
	upq_job_set_dir(j, dir);
	return upq_pump(s, s->upq, 0);
}

static int
note_v(struct sftp_session *s, int error, const char *src, const char *fmt,
    va_list ap) __attribute__((format(printf, 4, 0)));

static int
note_v(struct sftp_session *s, int error, const char *src, const char *fmt,
    va_list ap)
{
	struct ujob *j;

	if (upq_spec_skip(upq_get(s))) {
		return upq_pump(s, s->upq, 0);
	}
	j = upq_job_new(s, UJ_NOTE);
	job_vmsg(j, fmt, ap);
	j->failed = error;
	if (src != NULL) {
		j->lpath = xstrdup(src);
	}
	return upq_pump(s, s->upq, 0);
}

int
sftp_upq_note(struct sftp_session *s, int error, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = note_v(s, error, NULL, fmt, ap);
	va_end(ap);
	return r;
}

int
sftp_upq_note_src(struct sftp_session *s, const char *src,
    const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = note_v(s, 1, src, fmt, ap);
	va_end(ap);
	return r;
}

int
sftp_upq_opend(struct sftp_session *s, int errs, const char *failmsg)
{
	struct ujob *j = upq_job_new(s, UJ_OPEND);

	j->failmsg = failmsg != NULL ? xstrdup(failmsg) : NULL;
	j->opend_errs = errs;
	return upq_pump(s, s->upq, 0);
}

int
sftp_upload_flush(struct sftp_session *s)
{
	struct sftp_upq *q = s->upq;
	int r;

	sftp_upload_target_forget(s);
	if (q == NULL) {
		return s->dead ? SCP_E_CLOSED : 0;
	}
	if ((r = upq_pump(s, q, 1)) != 0) {
		q->errs = 0;
		return r;
	}
	r = q->errs > 0;
	q->errs = q->op_errs = 0;
	return r;
}

void
sftp_upq_free(struct sftp_session *s)
{
	sftp_upload_target_forget(s);
	if (s->upq == NULL) {
		return;
	}
	upq_clear(s, s->upq);
	sftp_upq_spec_end(s);
	strvec_clear(&s->upq->spec_files);
	strvec_clear(&s->upq->spec_dirs);
	free(s->upq->blk);
	free(s->upq);
	s->upq = NULL;
}
