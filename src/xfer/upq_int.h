/*
 * Internals of the upload queue (uploads of many files in flight), shared
 * only by upq.c (the queue, the head, the dispatch of replies),
 * upq_file.c (a small file's job), upq_budget.c (what may be in flight)
 * and up_spec.c (the queue's side of the speculative tree).  The walk
 * sees the queue through up_int.h only.
 *
 * Conventions as in sftp_int.h.  upq_pump() and upq_abort() drop the
 * whole queue when they return <0 (interrupted, session broken).
 */
#ifndef SCP_PROTO_SFTP_UPQ_INT_H
#define SCP_PROTO_SFTP_UPQ_INT_H

#include <stddef.h>
#include <stdint.h>

#include "up_int.h"
#include "../util/strvec.h"

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
	 * The root of a speculative tree (up_spec.c): spec_pending until
	 * the target's answers are in, then cancelled if the tree is not
	 * ours to build, and everything queued under it is dropped
	 * quietly (up_spec.c walks again the right way).
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

/*
 * Small WRITEs (below OpenSSH's sftp-server's 16 KiB read) are bounded
 * apart: upq_budget.c says why.
 */
#define UPQ_SMALL_WRITE		(16U * 1024)

/* ---- upq.c ---- */

/* The session's queue, made on first use. */
struct sftp_upq *upq_get(struct sftp_session *s);
/*
 * A new job of `kind` at the tail (state US_DONE, no fd); inside the
 * speculative tree while one is walked.  The queue owns it.
 */
struct ujob *upq_job_new(struct sftp_session *s, enum ujob_kind kind);
/* Adds a line to the job's messages, printed when it retires. */
void upq_job_msg(struct ujob *j, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Makes `dir` (when not NULL) the job's directory node. */
void upq_job_set_dir(struct ujob *j, struct upq_dir *dir);
/* Drops a reference to `d`, freeing it and the nodes above as they go. */
void upq_dir_unref(struct upq_dir *d);
/* Inside a speculative tree that turned out not ours. */
int upq_dir_cancelled(const struct upq_dir *d);
/* Inside a speculative tree not decided yet. */
int upq_dir_spec_pending(const struct upq_dir *d);
/*
 * Advances the queue until there is room for one more job (`drain`
 * zero) or it is empty.  0, or <0 (queue dropped).
 */
int upq_pump(struct sftp_session *s, struct sftp_upq *q, int drain);
/* An interrupted or broken queue: says which file, drops the rest,
 * returns `r`. */
int upq_abort(struct sftp_session *s, struct sftp_upq *q, int r);
/* A STATUS reply (`b` consumed): *code 0 for OK; 0, or <0 when
 * malformed. */
int upq_status_code(struct sftp_session *s, uint8_t type, struct buf *b,
    uint32_t *code);

/* ---- upq_file.c ---- */

/* Sends job `j`'s WRITEs while the budget allows, then its CLOSE. */
int upq_file_send_data(struct sftp_session *s, struct sftp_upq *q,
    struct ujob *j);
/* Reply `id` (`b` consumed) to UJ_FILE job `j`. */
int upq_file_reply(struct sftp_session *s, struct sftp_upq *q,
    struct ujob *j, uint32_t id, uint8_t type, struct buf *b);

/* ---- upq_budget.c: what may be in flight (pure) ---- */

/* 1 when a WRITE of `len` bytes may go out. */
int upq_write_room(const struct sftp_session *s, const struct sftp_upq *q,
    uint64_t len);
/* 1 when one more job may be queued. */
int upq_room(const struct sftp_session *s, const struct sftp_upq *q);
/* The largest file that is pipelined (larger: the sequential path). */
uint64_t upq_small_file_max(const struct sftp_session *s);

/* ---- up_spec.c: the queue's side of the speculative tree ---- */

/* The walk queues nothing more into a speculative tree given up. */
int upq_spec_skip(const struct sftp_upq *q);
/* Decides the pending speculative tree before job `j` inside it moves
 * on.  0, or <0 when the session broke. */
int upq_spec_settle(struct sftp_session *s, const struct ujob *j);

#endif
