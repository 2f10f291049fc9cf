/*
 * Declarations shared by the transfers of SFTP mode, above the wire
 * (wire.h): the progress meter and path helpers (meter.c, path.c), a
 * remote file written (upload.c, used by multi_up.c) or
 * read (download.c), one big file over several sessions (multi*.c), the
 * sequential upload pieces (upload.c) and the upload queue (uppipe.c).
 * The transfer engine (docs/design-engine.md) is to replace these.
 *
 * Returns: 0 or a negative SCP_E_* code as wire.h says; functions that
 * copy files also return 1 when an error was reported and the copy goes
 * on (sftp.h).  Strings returned are the caller's to free.
 */
#ifndef SCP_PROTO_SFTP_TRANSFER_H
#define SCP_PROTO_SFTP_TRANSFER_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

struct stat;

/* ---- path.c, meter.c ---- */

/* Appends `name` to `dir` with one '/' between (OpenSSH path_append). */
char *sftp_path_append(const char *dir, const char *name);

/* The progress meter (meter.c), drawn only when s->o->progress. */
void sftp_meter_start(struct sftp_session *s, const char *path,
    uint64_t size);
void sftp_meter_update(struct sftp_session *s, uint64_t done);
void sftp_meter_end(struct sftp_session *s);

/* ---- upload.c: writing a remote file (shared with multi_up.c) ---- */

/* A WRITE not yet acknowledged. */
struct sftp_wpend {
	uint32_t id;
	uint64_t off;
};

struct sftp_rfile {
	struct sftp_session *s;
	char *path;		/* final name */
	char *tmppath;		/* temporary name, NULL in place */
	struct sftp_handle h;
	int open;
	int failed;		/* a WRITE failed: stop sending */
	uint32_t fail_status;
	uint64_t acked;		/* highest offset acknowledged */
	struct sftp_attr final;	/* attributes to set before CLOSE */
	uint64_t have;		/* resume: bytes of the partial found */
	struct sftp_wpend *pend;	/* outstanding WRITEs */
	size_t npend, apend;
	uint64_t fail_off;	/* lowest offset of a failed WRITE */
	/*
	 * Called by sftp_rfile_finish() once the CLOSE is answered, before
	 * the rename: other sessions' CLOSEs of the same file (multi_up.c) are
	 * waited for there, in the same round trip.  Nonzero: the file
	 * is not whole, it is not published.  Cleared when called.
	 */
	int (*closed_cb)(void *ctx);
	void *closed_ctx;
};

/* Opens `path` (or its temporary name) for writing; `a` holds the mode
 * and, with -p, times of the source.  `fresh`: the target is known not
 * to exist (inside a directory we just created), which saves a STAT.
 * Prints errors. */
int sftp_rfile_open(struct sftp_rfile *rf, struct sftp_session *s,
    const char *path, const struct sftp_attr *a, int fresh);
/*
 * The same; with `resume` (--resume, docs/SAFETY.md) other partials of
 * `path` are removed and the partial of this very source (its size and
 * mtime are in the temporary name) is opened read-write and kept:
 * rf->have is its size, to be verified by the caller (sftp_read_block on
 * rf->h) before writing after it, or cut with sftp_rfile_restart().
 */
int sftp_rfile_open_resume(struct sftp_rfile *rf, struct sftp_session *s,
    const char *path, const struct sftp_attr *a, int fresh, int resume);
/* Truncates the partial to 0 (resume refused).  0 or <0 (SCP_E_PEER). */
int sftp_rfile_restart(struct sftp_rfile *rf);
/* Sends one WRITE (data copied into the request) without waiting, then
 * collects acknowledgements while s->nreq are in flight. */
int sftp_rfile_write(struct sftp_rfile *rf, const void *p, size_t n,
    uint64_t off);
/* Drains acknowledgements, sets attributes, closes, renames into place.
 * `ok` zero means the data is incomplete: clean up instead.  Prints
 * errors; 0 or a negative code. */
int sftp_rfile_finish(struct sftp_rfile *rf, int ok, uint64_t size);

/* ---- multi*.c: one big file over several sessions (multi_int.h) ---- */

/* Returned when the file is not split: copy it on one session. */
#define SFTP_MULTI_DECLINED	2

/*
 * Uploads regular file `fd` (`a`: its attributes, size included) to
 * `rpath` over `s` and the sessions its peer provider gives, or returns
 * SFTP_MULTI_DECLINED without touching anything (none given, --resume,
 * --inplace, -l, a small file).  Once taken, `fd` is closed here.
 * Otherwise returns as upload_file(): 0, 1 (error printed) or <0.
 */
int sftp_multi_upload(struct sftp_session *s, int fd, const char *lpath,
    const char *rpath, const struct sftp_attr *a, int fresh);
/*
 * Downloads remote regular file `rpath` (`a`: its STAT, size included)
 * to `lname` in `dirfd` (`ldisp` for messages, `ofl` OUTFILE_* flags)
 * over several sessions, or returns SFTP_MULTI_DECLINED without any
 * request sent.  `h`: the file already open for reading on `s` (then
 * closed here unless declined), or NULL.  Otherwise as download_file():
 * 0, 1 or <0.
 */
int sftp_multi_download(struct sftp_session *s, const char *rpath,
    const struct sftp_attr *a, const struct sftp_handle *h, int dirfd,
    const char *lname, const char *ldisp, int ofl);
/* 1 if a file of `size` bytes may be split over sessions (and the
 * provider is asked), else 0.  Pure. */
int sftp_multi_possible(const struct sftp_session *s, uint64_t size);

/*
 * The sequential pieces uppipe.c falls back on: the temporary name
 * beside `path` (caller frees); one file's whole upload (0, 1 error
 * printed, <0 fatal); the statvfs room check (0 fits or unknown, 1 too
 * big with the message printed, <0 fatal).
 */
char *sftp_upload_temp_name(const char *path, const struct sftp_attr *src);
int sftp_upload_file_sync(struct sftp_session *s, const char *lpath,
    const char *rpath, int fresh);
int sftp_upload_room(struct sftp_session *s, const char *rpath,
    uint64_t size);
/* Forgets the cached upload target (sftp_upload_flush, session end). */
void sftp_upload_target_forget(struct sftp_session *s);

/* ---- uppipe.c: uploads of many files in flight ---- */

/*
 * Every call queues a job in walk order and returns once the queue has
 * room again; messages and errors of a job come out when it reaches the
 * head (in walk order), counted for sftp_upload_flush().  Each returns 0
 * or a negative code when the session broke or we were interrupted (the
 * queue is then dropped, the message printed).
 *
 * sftp_upq_mkdir: MKDIR `rpath` (inside a directory we are creating, so
 * it cannot exist) without waiting; the node returned (caller releases
 * it) is the `dir` of the jobs inside it, which fail quietly if it could
 * not be made.  *rc gets the return code.
 * sftp_upq_file: one local file; `fresh`: SFTP_UPQ_FRESH when the
 * target cannot exist, SFTP_UPQ_DIRECT when moreover it is inside a
 * temporary tree that sftp_upq_publish() renames into place once whole
 * (the file is then written under its own name: no temp name, no
 * rename); `failmsg` is printed after its errors if it fails; `known`
 * is the stat(2) of `lpath` the caller just made, or NULL.
 * sftp_upq_publish: rename the temporary tree `tmp` to `dst` once all
 * queued before has retired.
 * sftp_upq_setstat: a directory's attributes, after everything queued.
 * sftp_upq_note: a message in walk order; `error` counts it as one.
 * sftp_upq_opend: the end of an operand: `failmsg` is printed if any job
 * since the last opend (or `errs`) failed.
 */
struct sftp_upq;
struct upq_dir;
struct upq_dir *sftp_upq_mkdir(struct sftp_session *s, const char *rpath,
    const struct sftp_attr *a, struct upq_dir *parent, int *rc);
void sftp_upq_dir_release(struct upq_dir *d);
int sftp_upq_file(struct sftp_session *s, const char *lpath,
    const char *rpath, const struct stat *known, int fresh,
    struct upq_dir *dir, const char *failmsg);
int sftp_upq_setstat(struct sftp_session *s, const char *rpath,
    const struct sftp_attr *a, struct upq_dir *dir);
int sftp_upq_publish(struct sftp_session *s, const char *tmp,
    const char *dst);
/* RMDIR `path` without waiting (an unneeded temporary tree). */
int sftp_upq_rmdir(struct sftp_session *s, const char *path);
#define SFTP_UPQ_FRESH	1
#define SFTP_UPQ_DIRECT	2
int sftp_upq_note(struct sftp_session *s, int error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int sftp_upq_opend(struct sftp_session *s, int errs, const char *failmsg);
/*
 * A directory upload may walk before the target's answers are in
 * (upload.c, a speculative tree): sftp_upq_spec_begin() makes the root
 * node everything queued until sftp_upq_spec_end() belongs to (the
 * caller owns one reference, released with sftp_upq_dir_release()).
 * Its OPENs use EXCL and are recorded.  The queue asks upload.c to
 * decide (sftp_upload_spec_resolve) before any job inside moves on;
 * the decision is given with sftp_upq_spec_decided(): not ours, and
 * everything inside is dropped quietly (handles closed).
 * sftp_upq_spec_finish() forgets what was recorded, removing it first
 * when `tmp` (the tree, ours but unwanted) is given: 0 or <0.
 */
struct upq_dir *sftp_upq_spec_begin(struct sftp_session *s);
void sftp_upq_spec_end(struct sftp_session *s);
void sftp_upq_spec_decided(struct upq_dir *root, int ours);
int sftp_upq_spec_finish(struct sftp_session *s, const char *tmp);
/* upload.c: takes the speculative tree's answers and decides (the
 * queue's hook above).  0, or <0 when the session broke. */
int sftp_upload_spec_resolve(struct sftp_session *s);
/* Drops the queue (session_free). */
void sftp_upq_free(struct sftp_session *s);

/* ---- download.c ---- */

/*
 * Pipelined READs of open remote handle `h` (of `size` bytes per STAT)
 * written into `rf` at the same offsets (crossload).  *end: EOF offset.
 * 0, 1 when the server reported a read error (*status), or <0 fatal.
 */
int sftp_copy_handle(struct sftp_session *s, const struct sftp_handle *h,
    uint64_t size, struct sftp_rfile *rf, uint64_t *end, uint32_t *status);

/*
 * Reads `len` bytes at `off` of open handle `h` into `p`, one READ at a
 * time (re-asking after short DATA); *got is less than `len` at EOF.
 * For --resume's comparisons.  0, SCP_E_PEER (error STATUS) or fatal.
 */
int sftp_read_block(struct sftp_session *s, const struct sftp_handle *h,
    uint64_t off, void *p, size_t len, size_t *got);
/*
 * The reply to READ `id` of at most `want` bytes (sent with
 * sftp_send_read, owner `s`): the data into `p`, *got its length, 0 at
 * EOF.  0, SCP_E_PEER (error STATUS) or fatal.
 */
int sftp_read_reply(struct sftp_session *s, uint32_t id, uint32_t want,
    void *p, size_t *got);

#endif
