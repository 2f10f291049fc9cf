/*
 * Internals shared by the download files of src/proto/sftp, and only by
 * them: what other files use of downloads (sftp_read_block,
 * sftp_read_reply) is declared in transfer.h, and
 * sftp_download() in sftp.h.
 *
 * Who owns what:
 *   download.c  sftp_download(): the operand (glob, destination checks,
 *               each match's local name), then the sequential loop or
 *               the queue, fed the matches and what the glob learnt
 *   dl_read.c   READs of an open remote handle: the pipelined window
 *               into a sink, single READs
 *   dl_file.c   one file, sequentially: STAT, OPEN, --resume's checks,
 *               the local file's commit; the partial-file rule on a stop
 *   dl_tree.c   one tree, sequentially (--resume)
 *   dl_queue.c  the queue: jobs' life, bounds, start, listing ahead,
 *               retiring at the head, abort, the reply loop
 *   dl_qfile.c  the queue's small-file jobs
 *   dl_qdir.c   the queue's directory jobs, and symlinks in listings
 *
 * download_* names the sequential code, dl_* the queue.  Return values
 * are those of sftp_int.h, and for a whole file, tree or job: 0 done, 1
 * an error reported (printed, or kept in the job's messages until it
 * retires) and the transfer goes on, <0 the session is unusable.
 */
#ifndef SCP_PROTO_SFTP_DL_INT_H
#define SCP_PROTO_SFTP_DL_INT_H

#include <stdint.h>
#include <sys/types.h>

#include "../proto/sftp/glob.h"
#include "../proto/sftp/wire.h"
#include "transfer.h"
#include "../util/strvec.h"

struct buf;
struct outfile;

/* ==== The sequential code ==== */

/* Data sink for download_read: the local outfile or a remote writer. */
struct rsink {
	struct outfile *of;
	int err;		/* errno of the first local write failure */
	int failed;
	uint64_t contig;	/* out: bytes from 0 written with no hole */
};

/*
 * dl_read.c: pipelined READs of open handle `h` (`size` bytes by STAT, 0
 * if unknown) from offset `start` into `sink`; `meter` updates the
 * progress meter.  *end is the EOF offset, sink->contig what is surely
 * written from offset 0 whatever the return.  0, 1 for a read error the
 * server reported (*status set), or <0 fatal.
 */
int download_read(struct sftp_session *s, const struct sftp_handle *h,
    uint64_t size, uint64_t start, struct rsink *sink, uint64_t *end,
    uint32_t *status, int meter);

/*
 * dl_file.c: a transfer into `of` that ended without the whole file
 * (fatal code `r`, `contig` bytes surely written from 0): the partial is
 * kept for --resume after an interruption or a lost connection, with a
 * message naming the file, and discarded after a protocol error.  `of`
 * is closed either way.
 */
void download_stopped(struct outfile *of, int r, const char *rpath,
    const char *ldisp, uint64_t contig);
/*
 * dl_file.c: remote file `rpath` to `lname` relative to `dirfd` (`ldisp`
 * for messages, `ofl` OUTFILE_* flags); `given`: attributes already
 * known (READDIR, the glob), else NULL and the file is STAT-ed.
 * 0 copied, 1 error reported, <0 session unusable.
 */
int download_file(struct sftp_session *s, const char *rpath,
    const struct sftp_attr *given, int dirfd, const char *lname,
    const char *ldisp, int ofl);

/* Canonical remote paths of the directories being copied (loops). */
struct rstack {
	char *path[SFTP_MAX_DEPTH + 2];
	int n;
};

/* dl_tree.c: qsort() order of struct sftp_dirent, by name. */
int download_cmp_dirent(const void *a, const void *b);
/*
 * dl_tree.c: remote directory `rpath` (`da`: its attributes) into
 * `lname` in `parentfd`, made if missing (`nofollow`: not through a
 * symlink), recursively; `rs` holds the directories above it.
 * 0 copied, 1 errors reported, <0 session unusable.
 */
int download_dir(struct sftp_session *s, const char *rpath,
    const struct sftp_attr *da, int parentfd, const char *lname,
    const char *ldisp, int nofollow, struct rstack *rs);

/* ==== Many files in flight (docs/protocol-sftp.md): the queue ==== */

/*
 * The engine keeps a queue of jobs in walk order: small files, remote
 * directories to list, the end of a directory (its chmod), and "sync"
 * jobs run by the sequential code once they reach the head (big
 * files, symlinks, top-level directories whose REALPATH the glob did not
 * bring: dl_top_pre()).  Jobs are started from the
 * cursor onwards as room allows; any reply goes to its job (the request
 * owner); a job's messages are printed when it retires from the head, so
 * they come out in walk order whatever the order of the replies.
 *
 * Bounds: at most DL_MAX_JOBS jobs between head and cursor, READ bytes
 * reserved by files in flight at most s->nreq * s->read_len and
 * DL_MAX_BYTES (requests are written without reading replies in between:
 * the DATA must fit the buffers of the way back), DL_MAX_REQS requests,
 * DL_MAX_LISTING directories listed ahead of
 * the cursor, each with its listing held until the cursor reaches it.
 */

#define DL_MAX_JOBS	1024
#define DL_MAX_LISTING	8
/*
 * Requests of files in flight: four for a small file (OPEN, READ, the
 * EOF probe, CLOSE), so 500 small files go in one wave.  Their replies
 * are tiny but for the DATA, which the byte budget bounds (the deadlock
 * rule above SFTP_MAX_NREQ), as upq_file.c's WRITEs.
 */
#define DL_MAX_REQS	(4 * SFTP_MAX_NREQ)
/* READ bytes held by small files in flight, whatever -X says. */
#define DL_MAX_BYTES	(8 * 1024 * 1024)
/*
 * READDIRs in flight per directory (readdir.c's READDIR_AHEAD): the
 * server answers a handle's requests in order and replies come back in
 * arrival order (sftp_reply_any), so a listing of a few hundred names
 * costs one round trip; the ones after the end say EOF and are dropped.
 */
#define DL_READDIR_AHEAD	3
#define DL_PF_SCAN	1024	/* nodes looked at for directories to list */
#define DL_MAX_BLK	4	/* READs of a small file (plus the probe) */
/*
 * Files from this size on go through download_file() (progress meter,
 * partial visible under its temporary name while it grows): a small file
 * is held in memory until its last byte is in.
 */
#define DL_SMALL_MAX	(64 * 1024)
#define DL_MAGIC	0x646c6a62U

enum dl_kind {
	DLJ_FILE,	/* a small regular file, pipelined */
	DLJ_DIR,	/* a remote directory: listed, then expanded */
	DLJ_DIREND,	/* a directory's times and mode, after its files */
	DLJ_BIG,	/* a big regular file: download_file() at the head */
	DLJ_LINK,	/* a symlink in a listing: download_entry()'s way */
	DLJ_TOP,	/* a glob match needing REALPATH: sftp_download's way */
};

enum dl_state {
	DLS_NEW,	/* not started */
	DLS_STAT,	/* STAT sent (a glob match) */
	DLS_PARKED,	/* STAT answered, waiting for room to OPEN */
	DLS_OPEN,	/* OPEN sent */
	DLS_READ,	/* READs, EOF probe and CLOSE sent */
	DLS_LIST,	/* OPENDIR/READDIR in progress */
	DLS_LISTED,	/* listing complete (its CLOSE may be outstanding) */
	DLS_SYNC,	/* to be run sequentially at the head */
	DLS_DONE,	/* finished: messages wait for the head */
};

/* A local directory being filled; its DIREND job (or, until expanded,
 * its DIR job) owns it. */
struct dl_dir {
	struct dl_dir *parent;
	char *rpath;		/* remote path (canonical for loops) */
	char *ldisp;
	struct sftp_attr a;
	int dfd;
	int created;		/* we made it: no stale partials inside */
	int depth;		/* directories above it */
	mode_t mode, tmpmode;
};

struct dl_job {
	uint32_t magic;		/* replies are routed by owner pointer */
	enum dl_kind kind;
	int synced;		/* ran at the head (dl_run_sync): reported */
	enum dl_state state;
	struct dl_job *next;
	int started, passed, failed;
	char *rpath, *lname, *ldisp;
	struct dl_dir *dir;	/* directory it is in (NULL: top level) */
	int dirfd;		/* where lname is created */
	int ofl;		/* OUTFILE_* flags */
	int in_dir;		/* a failure also says "Download of file" */
	int have_attrs;
	struct sftp_attr a;
	size_t nout;		/* requests of this job outstanding */
	struct strvec msgs;	/* printed when it retires */
	/* DLJ_FILE */
	struct sftp_handle h;
	uint8_t *data;
	uint64_t size, cost;
	uint32_t nblk;		/* READs, ids[nblk] is the EOF probe */
	uint32_t ids[DL_MAX_BLK + 1], cid;
	uint32_t got;		/* bit k: block k arrived whole */
	int read_error, redo, close_err, meter;
	uint32_t status, close_status;
	/* DLJ_DIR */
	struct dl_dir *d;	/* the directory being made */
	int nofollow;
	int listing;		/* OPENDIR (1) or READDIR (2) outstanding */
	int hopen;
	int rdout;		/* READDIRs outstanding */
	int pre_dir;		/* sftp_srcinfo's `dir`: 1 handle h open */
	struct sftp_listing ls;	/* its entries so far */
	/* DLJ_TOP */
	int top_dir;		/* a directory to copy recursively */
};

struct dl_engine {
	struct sftp_session *s;
	struct dl_job *head, *tail, *cursor;
	size_t npassed, nlisting, nparked, reqs, maxjobs;
	uint64_t bytes, budget, small_max;
	int limited;		/* bounds set from the limits (dl_limits) */
	unsigned long ops;	/* changes: a loop with none must wait */
	int pf_dirty;
	int errs;
	/* The glob matches of the operand, fed as the cursor needs. */
	const struct strvec *g;
	size_t gi;
	struct sftp_srcinfo *pre;	/* what the glob learnt, or NULL */
	const char *target;
	int dst_is_dir, dfd;
};

/* ---- dl_queue.c ---- */

/*
 * A new job, not linked (never NULL).  It copies the strings; dirfd is
 * AT_FDCWD until set.  Once dl_insert()ed, the engine owns and frees it.
 */
struct dl_job *dl_job_new(enum dl_kind kind, const char *rpath,
    const char *lname, const char *ldisp);
/* Links `j` after `prev` (NULL: at the tail); the cursor if it had none. */
void dl_insert(struct dl_engine *e, struct dl_job *prev, struct dl_job *j);
/*
 * Marks `j` finished; `failed` counts it as an error and, for a file in
 * a directory, queues OpenSSH's "Download of file ... failed".
 */
void dl_done(struct dl_engine *e, struct dl_job *j, int failed);
/*
 * Copies the glob matches `g` of one operand with many files in flight
 * (`pre`: what the glob learnt, or NULL; `dst_is_dir`: into `dfd`, the
 * open `target`, else to `target` itself).
 * 0 all copied, 1 errors reported, <0 session unusable.
 */
int download_pipelined(struct sftp_session *s, const struct strvec *g,
    struct sftp_srcinfo *pre, const char *target, int dst_is_dir, int dfd);

/* ---- dl_qfile.c: small files ---- */

/* 1 if a regular file with attributes `a` is small enough for a job. */
int dl_small(const struct dl_engine *e, const struct sftp_attr *a);
/* Sends the OPEN of a small file (its bytes now count in the budget).
 * 0 or <0. */
int dl_file_open(struct dl_engine *e, struct dl_job *j);
/* A small file's attributes are known: fails it if it is not a regular
 * file, leaves a big one to the sequential code (DLS_SYNC). */
void dl_file_stated(struct dl_engine *e, struct dl_job *j);
/* Reply `id` (`type`, `b`, which it takes) to a small file's request.
 * 0 (failures are the job's messages) or <0. */
int dl_file_reply(struct dl_engine *e, struct dl_job *j, uint32_t id,
    uint8_t type, struct buf *b);
/* The session broke (code `r`) while `j`'s data was arriving: as
 * download_stopped(), with what arrived from offset 0 on. */
void dl_file_stopped(struct dl_engine *e, struct dl_job *j, int r);

/* ---- dl_qdir.c: directories ---- */

/* Makes the local directory of DIR job `j` and starts its listing.
 * 0 (failures are the job's messages) or <0. */
int dl_dir_start(struct dl_engine *e, struct dl_job *j);
/* Reply `id` (`type`, `b`, which it takes) to a directory's request.
 * 0 (failures are the job's messages) or <0. */
int dl_dir_reply(struct dl_engine *e, struct dl_job *j, uint32_t id,
    uint8_t type, struct buf *b);
/* The cursor reached listed DIR job `j`: its entries as jobs after it,
 * then a DIREND job, which takes over the directory. */
void dl_dir_expand(struct dl_engine *e, struct dl_job *j);
/* DIREND job `j` retires: the directory's times and mode (errors
 * printed, e->errs set). */
void dl_dir_end(struct dl_engine *e, struct dl_job *j);
/* LINK job `j` at the head: followed, a directory becoming a DIR job
 * after it.  0 (errors printed, e->errs set) or <0. */
int dl_run_link(struct dl_engine *e, struct dl_job *j);

/* ---- download.c: the operand's matches ---- */

/* The next glob match as a job at the tail (none once all are in). */
void dl_feed(struct dl_engine *e);
/* TOP job `j` at the head: named by REALPATH, a directory becoming a
 * DIR job after it.  0 (errors printed, e->errs set) or <0. */
int dl_run_top(struct dl_engine *e, struct dl_job *j);

#endif
