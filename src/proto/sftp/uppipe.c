/*
 * Uploads of many files in flight (issue 5, docs/protocol-sftp.md "Many
 * files in flight").
 *
 * OpenSSH's client finishes one file before it starts the next: STAT,
 * OPEN, WRITEs, CLOSE, each waiting for its reply, about four round
 * trips per file.  The server (sftp-server) processes requests strictly
 * in order, and SFTP lets any number be outstanding, so here each file
 * is a job whose requests go out as soon as what they depend on is
 * known: OPEN at once, the WRITEs and CLOSE when the HANDLE arrives, the
 * rename when CLOSE succeeded.  Hundreds of files are in flight, and a
 * tree costs a few round trips in all.
 *
 * Jobs sit in one FIFO queue in walk order.  Replies advance any job;
 * only the job at the head retires, so messages and the count of errors
 * come out in walk order, as the sequential code printed them.  Work
 * that needs the sequential code (big files, --resume, a target that is
 * a symlink, a directory's attributes) is a job run synchronously when
 * it reaches the head; the requests of later jobs stay in flight
 * meanwhile (msg.c files their replies).
 *
 * Bounds: UPQ_MAX_JOBS jobs, UPQ_MAX_HANDLES of them (and at most half
 * the server's handle limit) between OPEN and CLOSE, at
 * most s->nreq WRITEs outstanding; nothing of a file is kept in memory
 * after its WRITE is sent.
 */
#include "up_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../transport/io.h"
#include "../../util/buf.h"
#include "../../util/err.h"
#include "../../util/log.h"
#include "../../util/strvec.h"
#include "../../util/xmalloc.h"

/*
 * 1024 jobs: a 50 ms link moves 500 small files in one wave of round
 * trips.  Their replies (a few small ones each) always fit the buffers
 * between us and the server while we write without reading.
 */
#define UPQ_MAX_JOBS	1024
#define UPQ_MAX_HANDLES	512

enum ujob_kind {
	UJ_FILE,	/* a small regular file, pipelined */
	UJ_MKDIR,	/* a directory inside one we create */
	UJ_SYNCFILE,	/* a file for the sequential path, at the head */
	UJ_SETSTAT,	/* a directory's attributes, at the head */
	UJ_NOTE,	/* a message to print in walk order */
	UJ_OPEND,	/* the end of an operand */
	UJ_PUBLISH,	/* rename a finished temporary tree into place */
	UJ_RMDIR,	/* remove a temporary tree we did not need */
};

enum ujob_state {
	US_OPEN,	/* STAT/LSTAT/OPEN outstanding */
	US_DATA,	/* have the handle, WRITEs to send */
	US_CLOSE,	/* WRITEs, attributes, CLOSE outstanding */
	US_RENAME,	/* rename into place outstanding */
	US_CLEAN,	/* removing the temporary file */
	US_DONE,
};

struct upq_dir {
	unsigned int refs;
	int failed;		/* its MKDIR failed */
	/*
	 * The root of a speculative tree (upload.c): spec_pending until
	 * the target's answers are in, then cancelled if the tree is not
	 * ours to build, and everything queued under it is dropped
	 * quietly (upload.c walks again the right way).
	 */
	int spec_pending;
	int cancelled;
	struct upq_dir *parent;
};

struct ujob {
	struct ujob *next;
	enum ujob_kind kind;
	enum ujob_state state;
	struct upq_dir *dir;	/* FILE, SYNCFILE, SETSTAT: the parent being
				 * created (or NULL); MKDIR: the one made */
	char *lpath, *rpath, *tmppath;
	char *failmsg;		/* printed last when the job failed */
	struct strvec msgs;	/* error lines, printed at retirement */
	int fresh;
	int direct;		/* inside a temporary tree: no temp name */
	int failed;
	int local_failed;	/* reading the source failed */
	int redo_sync;		/* finish with the sequential path */
	int spec_open;		/* OPEN (EXCL) sent before the tree was ours */
	int room_later;		/* the free-space check waits for the tree's
				 * statvfs (file_opened) */
	int fd;
	struct sftp_attr src;	/* the source's attributes */
	struct sftp_attr final;	/* attributes to set before CLOSE */
	uint64_t size, sent;
	struct sftp_handle h;
	unsigned int nout;	/* requests outstanding */
	uint32_t id_stat, id_lstat, id_open, id_trunc, id_attr, id_fsync;
	uint32_t id_close, id_rename;
	int have_stat, have_lstat, have_trunc, have_attr, have_fsync;
	int open_ok, existed, islink;
	uint32_t open_code, write_code, trunc_code, attr_code, fsync_code;
	uint32_t close_code, rename_code;
	int opend_errs;		/* OPEND: errors the walk itself saw */
	int holds;		/* counted in q->nhandles */
	uint32_t last_wid;	/* the WRITE that is shorter than a block */
	uint64_t last_wlen;
};

struct sftp_upq {
	struct ujob *head, *tail;
	size_t njobs;
	size_t ndata;		/* jobs in US_DATA */
	size_t nwrites;		/* WRITEs outstanding */
	uint64_t wbytes;	/* their data */
	uint64_t swbytes;	/* the data of the small ones (UPQ_SMALL_WRITE) */
	size_t nhandles;	/* FILE jobs between OPEN and CLOSE */
	int errs;		/* failed jobs since the last flush */
	int op_errs;		/* failed jobs since the last OPEND */
	uint64_t seen_flush;	/* s->nflush when replies were last looked
				 * for during the walk (upq_early) */
	uint8_t *blk;
	size_t blk_len;
	/* The speculative walk under way (sftp_upq_spec_begin), and the
	 * files and directories it asked the server to create there. */
	struct upq_dir *spec_dir;
	struct strvec spec_files, spec_dirs;
};

/* ---- jobs ---- */

static void
dir_unref(struct upq_dir *d)
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
static int
dir_cancelled(const struct upq_dir *d)
{
	return dir_marked(d, DM_CANCELLED);
}

/* Inside a speculative tree not decided yet. */
static int
dir_spec_pending(const struct upq_dir *d)
{
	return dir_marked(d, DM_PENDING);
}

/* The walk queues nothing more into a speculative tree given up. */
static int
spec_skip(const struct sftp_upq *q)
{
	return q->spec_dir != NULL && q->spec_dir->cancelled;
}

/* Decides the pending speculative tree before a job inside it moves
 * on (upload.c; never waits then: its answers came first). */
static int
spec_settle(struct sftp_session *s, const struct ujob *j)
{
	if (j == NULL || !dir_spec_pending(j->dir)) {
		return 0;
	}
	return sftp_upload_spec_resolve(s);
}

static void
job_free(struct ujob *j)
{
	if (j->fd != -1) {
		close(j->fd);
	}
	dir_unref(j->dir);
	free(j->lpath);
	free(j->rpath);
	free(j->tmppath);
	free(j->failmsg);
	strvec_clear(&j->msgs);
	free(j);
}

static void
job_msg(struct ujob *j, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
job_msg(struct ujob *j, const char *fmt, ...)
{
	char *m;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&m, fmt, ap) == -1) {
		m = NULL;
	}
	va_end(ap);
	strvec_push(&j->msgs, m != NULL ? m : "out of memory");
	free(m);
}

static struct sftp_upq *
upq_get(struct sftp_session *s)
{
	if (s->upq == NULL) {
		s->upq = xcalloc(1, sizeof(*s->upq));
		strvec_init(&s->upq->spec_files);
		strvec_init(&s->upq->spec_dirs);
	}
	return s->upq;
}

static struct ujob *
job_new(struct sftp_session *s, enum ujob_kind kind)
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

/*
 * Small WRITEs (below OpenSSH's sftp-server's 16 KiB read) outstanding
 * are kept within upq_small_max() bytes.  That server reads 16 KiB per
 * turn of its loop but handles one request per turn, so a burst of
 * small requests piles up in its input buffer, which it regrows 16 KiB
 * at a time by copying all of it into fresh memory, a step per read: the
 * higher the pile ever gets, the more of its time goes to memmove and
 * page faults, about quadratically.
 * Large WRITEs are one request per 16 KiB read and never pile up.
 *
 * The bound is what keeps a link busy at about 40 MB/s (that server
 * writes 4 KiB files at 40-60 MB/s here) once a clean round trip is
 * known, within 128 KiB (3 ms or less) and 1 MiB (25 ms or more); 512 KiB
 * until then; 128 KiB with -D (a local server, the round trip known
 * short).  Measured (4-8 alternating runs):
 * 10,000 x 4 KiB over loopback ssh 0.85-0.88 s with 128 KiB throughout,
 * 1.0-1.2 s with 512 KiB until the round trip is known (a crowded
 * timed answer there is rarely trusted before the end), 1.3-1.7 s with
 * the 1 MiB of before; 3,000 x 3 KB with -D 0.6-0.9 s against 2.7 s
 * (OpenSSH's scp 0.9 s).  500 x 4 KiB over the 50 ms link: 0.87-0.91 s
 * with 512 KiB for the first round trip, 0.85-1.04 s with 1 MiB, 0.90-1.09
 * s with 128 KiB (one more round trip); 1 MiB once the round trip is
 * known long is one round trip's worth (512 KiB throughout: 0.94-0.98 s).
 */
#define UPQ_SMALL_WRITE		(16U * 1024)
#define UPQ_SMALL_MIN		(128U * 1024)
#define UPQ_SMALL_FIRST		(512U * 1024)
#define UPQ_SMALL_MAX		(1024U * 1024)
#define UPQ_SMALL_RATE		42	/* bytes per microsecond of round trip */

static uint64_t
upq_small_max(const struct sftp_session *s)
{
	uint64_t b;

	if (!s->rtt_clean) {
		return UPQ_SMALL_FIRST;
	}
	b = (uint64_t)s->rtt_us * UPQ_SMALL_RATE;
	return b < UPQ_SMALL_MIN ? UPQ_SMALL_MIN :
	    b > UPQ_SMALL_MAX ? UPQ_SMALL_MAX : b;
}

/*
 * Whether a WRITE of `len` bytes may go out: the data outstanding stays
 * within nrequests blocks (what one big file keeps in flight), however
 * small the files, and the small ones within upq_small_max(); their
 * count within SFTP_MAX_NREQ * 4 (tiny STATUS replies, which always fit
 * the buffers between us and the server).
 */
static int
write_room(const struct sftp_session *s, const struct sftp_upq *q,
    uint64_t len)
{
	if (q->nwrites == 0) {
		return 1;
	}
	if (len < UPQ_SMALL_WRITE && q->swbytes + len > upq_small_max(s)) {
		return 0;
	}
	return q->nwrites < 4 * SFTP_MAX_NREQ &&
	    q->wbytes + len <= (uint64_t)s->nreq * s->write_len;
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
	if (dir_spec_pending(j->dir)) {
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

/* Sends the file's WRITEs while the budget allows, then CLOSE. */
static int
file_send_data(struct sftp_session *s, struct sftp_upq *q, struct ujob *j)
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
		if (!write_room(s, q, want)) {
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
				job_msg(j, "read local \"%s\": %s", j->lpath,
				    strerror(errno));
			} else {
				job_msg(j, "read local \"%s\": file changed "
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

/* A STATUS reply: its code (0 OK), or <0 for a malformed reply. */
static int
status_code(struct sftp_session *s, uint8_t type, struct buf *b,
    uint32_t *code)
{
	int r = sftp_take_status(s, type, b);

	if (r == 0 || r == SCP_E_PEER) {
		*code = r == 0 ? 0 : s->last_status;
		return 0;
	}
	return r;
}

/* All of the OPEN round's replies are in. */
static int
file_opened(struct sftp_session *s, struct sftp_upq *q, struct ujob *j)
{
	uint32_t id;
	int r;

	if (!j->open_ok || j->islink || dir_cancelled(j->dir)) {
		job_release_handle(s, j);
	}
	if (dir_cancelled(j->dir)) {
		/*
		 * Not our tree: closed, said nothing of.  The empty file
		 * EXCL made stays when the tree is another copy's (its
		 * owner may be writing it by now: removing it could lose
		 * that); in a tree of ours upload.c removes everything.
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
		job_msg(j, "dest open \"%s\": %s", j->rpath,
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
		job_msg(j, "%s: %s", j->rpath, strerror(ENOSPC));
		j->failed = 1;
		return file_undo(s, j);
	}
	job_state(q, j, US_DATA);
	return file_send_data(s, q, j);
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
		job_msg(j, "write remote \"%s\": %s", j->rpath,
		    sftp_fx2txt(j->write_code));
	}
	if (j->trunc_code != 0) {
		job_msg(j, "remote ftruncate \"%s\": %s", j->rpath,
		    sftp_fx2txt(j->trunc_code));
	}
	if (j->attr_code != 0) {
		/* OpenSSH reports this but keeps the file. */
		job_msg(j, "remote fsetstat \"%s\": %s", j->rpath,
		    sftp_fx2txt(j->attr_code));
		j->failed = 1;
	}
	if (j->fsync_code != 0) {
		job_msg(j, "remote fsync: %s", sftp_fx2txt(j->fsync_code));
		j->failed = 1;
	}
	if (j->close_code != 0) {
		job_msg(j, "close remote \"%s\": %s", j->rpath,
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
			job_msg(j, "rename \"%s\" to \"%s\": %s", j->tmppath,
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

static int
file_reply(struct sftp_session *s, struct sftp_upq *q, struct ujob *j,
    uint32_t id, uint8_t type, struct buf *b)
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
	if ((r = status_code(s, type, b, &code)) != 0) {
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
			job_msg(j, "rename \"%s\" to \"%s\": %s", j->tmppath,
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

static int
mkdir_reply(struct sftp_session *s, struct ujob *j, uint8_t type,
    struct buf *b)
{
	uint32_t code;
	int r;

	j->nout--;
	if ((r = status_code(s, type, b, &code)) != 0) {
		return r;
	}
	if (code != 0 && !dir_cancelled(j->dir)) {
		job_msg(j, "remote mkdir \"%s\": %s", j->rpath,
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

	if ((r = spec_settle(s, j)) != 0) {
		return r;
	}
	if (dir_cancelled(j->dir)) {
		/* Queued by a speculative walk whose tree was not ours: the
		 * walk is done again the right way (upload.c). */
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
	head_pop(q);
	return 0;
}

/* 1 when one more job may be queued. */
static int
upq_room(const struct sftp_session *s, const struct sftp_upq *q)
{
	size_t hcap = UPQ_MAX_HANDLES;

	/* Leave the server's handles room for others (and our -3). */
	if (s->max_handles != 0 && s->max_handles / 2 < hcap) {
		hcap = s->max_handles / 2 > 0 ? s->max_handles / 2 : 1;
	}
	return q->njobs < UPQ_MAX_JOBS && q->nhandles < hcap;
}

/* An interrupted or broken queue: say which file, drop the rest. */
static int
upq_abort(struct sftp_session *s, struct sftp_upq *q, int r)
{
	struct ujob *j;

	for (j = q->head; j != NULL; j = j->next) {
		if (j->kind == UJ_FILE && j->state != US_DONE &&
		    !dir_cancelled(j->dir)) {
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
 * goes out every SFTP_OBUF_HOLD_US, msg.c): their data should follow at
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
static int
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
		    write_room(s, q, 1); j = j->next) {
			if (j->state == US_DATA &&
			    (r = file_send_data(s, q, j)) != 0) {
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
		if ((r = spec_settle(s, j)) != 0) {
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
			r = file_reply(s, q, j, id, type, b);
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

/* ---- what upload.c calls ---- */

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
	if (spec_skip(q)) {
		d->refs = 1;
		d->cancelled = 1;
		*rc = upq_pump(s, q, 0);
		return d;
	}
	if (dir_spec_pending(d)) {
		strvec_push(&q->spec_dirs, rpath);
	}
	j = job_new(s, UJ_MKDIR);
	dir_unref(j->dir);
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
	dir_unref(d);
}

static void
job_set_dir(struct ujob *j, struct upq_dir *dir)
{
	if (dir == NULL) {
		return;		/* keeps job_new's (the speculative tree) */
	}
	dir_unref(j->dir);
	j->dir = dir;
	dir->refs++;
}

/*
 * Files up to this size are pipelined; larger ones take the sequential
 * path, which streams them at the session's full window anyway (and is
 * where resume and several sessions live).
 */
static uint64_t
small_max(const struct sftp_session *s)
{
	uint64_t m = 4 * (uint64_t)s->write_len;

	return m < 1024 * 1024 ? 1024 * 1024 : m;
}

int
sftp_upq_file(struct sftp_session *s, const char *lpath, const char *rpath,
    const struct stat *known, int fresh, struct upq_dir *dir,
    const char *failmsg)
{
	struct sftp_upq *q = upq_get(s);
	struct ujob *j;
	struct stat st;
	int fd, r, st_ok, st_errno = 0;

	if (spec_skip(q)) {
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
	    ((uint64_t)st.st_size > small_max(s) || s->o->resume)) {
		j = job_new(s, UJ_SYNCFILE);
		j->lpath = xstrdup(lpath);
		j->rpath = xstrdup(rpath);
		j->failmsg = failmsg != NULL ? xstrdup(failmsg) : NULL;
		j->fresh = fresh != 0;
		job_set_dir(j, dir);
		return upq_pump(s, q, 0);
	}
	j = job_new(s, UJ_FILE);
	j->lpath = xstrdup(lpath);
	j->rpath = xstrdup(rpath);
	j->failmsg = failmsg != NULL ? xstrdup(failmsg) : NULL;
	j->fresh = fresh != 0;
	j->direct = fresh == SFTP_UPQ_DIRECT;
	job_set_dir(j, dir);
	j->failed = 1;		/* until shown otherwise */
	if (!st_ok) {
		job_msg(j, "stat local \"%s\": %s", lpath,
		    strerror(st_errno));
		return upq_pump(s, q, 0);
	}
	if (!S_ISREG(st.st_mode)) {
		job_msg(j, "local \"%s\" is not a regular file", lpath);
		return upq_pump(s, q, 0);
	}
	/*
	 * O_NONBLOCK in case it was swapped for a FIFO since the stat;
	 * it means nothing to the regular file fstat then confirms.
	 */
	if ((fd = open(lpath, O_RDONLY | O_NONBLOCK | O_NOCTTY)) == -1) {
		job_msg(j, "open local \"%s\": %s", lpath, strerror(errno));
		return upq_pump(s, q, 0);
	}
	j->fd = fd;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		job_msg(j, "local \"%s\" is not a regular file", lpath);
		return upq_pump(s, q, 0);
	}
	sftp_attr_from_stat(&j->src, &st);
	j->size = (uint64_t)st.st_size;
	/*
	 * Fail early on a full remote disk.  A directory we just made is on
	 * its parent's filesystem: the answer already asked is reused.
	 */
	if (!s->o->inplace && dir_spec_pending(j->dir)) {
		/* The tree's statvfs is on its way with its MKDIR. */
		j->room_later = 1;
	} else if (!s->o->inplace) {
		if (fresh && s->vfs_dir != NULL) {
			if (j->size > s->vfs_avail) {
				job_msg(j, "%s: %s", rpath, strerror(ENOSPC));
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

int
sftp_upq_rmdir(struct sftp_session *s, const char *path)
{
	struct ujob *j = job_new(s, UJ_RMDIR);
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

/*
 * Best effort removal of what a speculative walk created in a tree
 * that is ours but not wanted: files first, directories deepest first,
 * then `tmp` itself.  In order behind the OPENs and MKDIRs (the server
 * takes requests in order); a file still open goes all the same.
 */
static int
spec_remove(struct sftp_session *s, struct sftp_upq *q, const char *tmp)
{
	struct ujob *j = job_new(s, UJ_RMDIR);
	uint32_t id;
	size_t i;
	int r = 0;

	dir_unref(j->dir);
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
		dir_unref(q->spec_dir);
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

int
sftp_upq_publish(struct sftp_session *s, const char *tmp, const char *dst)
{
	struct ujob *j = job_new(s, UJ_PUBLISH);

	j->lpath = xstrdup(tmp);
	j->rpath = xstrdup(dst);
	return upq_pump(s, s->upq, 0);
}

int
sftp_upq_setstat(struct sftp_session *s, const char *rpath,
    const struct sftp_attr *a, struct upq_dir *dir)
{
	struct ujob *j;

	if (spec_skip(upq_get(s))) {
		return upq_pump(s, s->upq, 0);
	}
	j = job_new(s, UJ_SETSTAT);
	j->rpath = xstrdup(rpath);
	j->src = *a;
	job_set_dir(j, dir);
	return upq_pump(s, s->upq, 0);
}

int
sftp_upq_note(struct sftp_session *s, int error, const char *fmt, ...)
{
	struct ujob *j;
	char *m;
	va_list ap;

	if (spec_skip(upq_get(s))) {
		return upq_pump(s, s->upq, 0);
	}
	j = job_new(s, UJ_NOTE);
	va_start(ap, fmt);
	if (vasprintf(&m, fmt, ap) == -1) {
		m = NULL;
	}
	va_end(ap);
	strvec_push(&j->msgs, m != NULL ? m : "out of memory");
	free(m);
	j->failed = error;
	return upq_pump(s, s->upq, 0);
}

int
sftp_upq_opend(struct sftp_session *s, int errs, const char *failmsg)
{
	struct ujob *j = job_new(s, UJ_OPEND);

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
