/*
 * Declarations shared by the transfers of SFTP mode, above the wire
 * (wire.h): the progress meter and path helpers (meter.c, path.c), a
 * remote file written (upload.c, used by multi_up.c) or
 * read (download.c), one big file over several sessions (multi*.c), the
 * sequential upload pieces (upload.c) and the upload queue (upq.c).
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

#include "../proto/sftp/wire.h"
#include "xfer.h"

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

/* The temporary name beside `path` for a copy of a source with attrs
 * `src` (caller frees); also the relay's (src/xfer/file.c). */
char *sftp_upload_temp_name(const char *path, const struct sftp_attr *src);

/* ---- uploads (their internals: up_int.h) ---- */
/* Drops the queue (session_free). */
void sftp_upq_free(struct sftp_session *s);

/* ---- dl_read.c ---- */

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
