/*
 * Endpoints of the transfer engine (docs/design-engine.md section 2.1):
 * where a transfer reads from or writes to, behind one asynchronous,
 * completion-based interface.  The engine (engine.h) knows jobs and no
 * protocol; an endpoint knows its protocol and no jobs.
 *
 * An operation is a `struct xop` the caller owns and keeps alive until
 * its completion has run: the caller fills the kind-specific inputs,
 * calls xep_*(), and the endpoint calls op->done(op) from xep_pump()
 * once the answer is in, with op->rc set:
 *    0           done (outputs filled),
 *    SCP_E_PEER  the far side refused; op->fx is its status code,
 *    XOP_EOF     READ at or past the end of the file,
 * and nothing else: a broken endpoint is reported by xep_pump() and
 * xep_*() themselves returning a negative SCP_E_* code (message printed,
 * endpoint dead); its outstanding operations then never complete, and
 * xep_forget() drops them.
 *
 * Endpoints: one SFTP session (ep_sftp.c, its sink files in
 * ep_sftp_sink.c) and the local file system (ep_local.c, whose
 * operations are done when started and complete at the next pump); a
 * pool of sessions comes next (design-engine.md section 3).
 *
 * A sink file (XOP_CREATE .. XOP_COMMIT) is a composite operation: each
 * endpoint keeps its own atomic-write rules behind it (temporary name,
 * the mode of an existing target, a symlink written through, the
 * partial kept for --resume, the rename into place), so the file job
 * only says in which order things happen.
 */
#ifndef SCP_XFER_EP_H
#define SCP_XFER_EP_H

#include <stddef.h>
#include <stdint.h>

#include "../proto/sftp/wire.h"
#include "../util/strvec.h"

enum xop_kind {
	XOP_STAT,	/* path -> a (follows links) */
	XOP_LSTAT,	/* path -> a */
	XOP_OPEN,	/* path, flags (SSH2_FXF_*), a (mode) -> h */
	XOP_READ,	/* h, off, len -> data, dlen (valid in done only) */
	XOP_WRITE,	/* sk or h, off, wdata, wlen (copied when sent) */
	XOP_FSETSTAT,	/* h, a */
	/* path, a; on a local endpoint with XCR_AT and no path, the
	 * directory `dirfd` itself (XSS_UMASK: a mode restored after the
	 * directory was made writable, less the umask); a refusal pushed
	 * its message to *msgs if given. */
	XOP_SETSTAT,
	XOP_FSYNC,	/* h */
	XOP_CLOSE,	/* h */
	XOP_RENAME,	/* path -> path2, replacing path2 */
	XOP_REMOVE,	/* path */
	XOP_COPY,	/* h (source) -> sk (sink) on one endpoint */
	XOP_REALPATH,	/* path -> rpath (the caller frees it) */
	XOP_MKDIR,	/* path, a (mode) */
	XOP_OPENDIR,	/* path -> oh */
	/* h, ls -> one NAME reply's entries appended to *ls (suspect
	 * names dropped, their messages to *msgs); XOP_EOF at the end. */
	XOP_READDIR,
	/*
	 * The whole listing of `path` into *ls (the caller's, zeroed; it
	 * frees ls->ents with sftp_dirents_free): OPENDIR, READDIRs ahead,
	 * CLOSE.  SCP_E_PEER refused (op->fx; "too many entries" pushed to
	 * *msgs).  Suspect names are dropped with their messages.
	 */
	XOP_LIST,
	/*
	 * A sink file for final name `path` (relative to `dirfd` with
	 * XCR_AT on a local endpoint; `path2`, if set, names it in
	 * messages), the source's attributes in `a` (mode, size, mtime),
	 * `flags` XCR_* -> sk, set when started (so a stopped transfer
	 * can xep_sink_drop() it) and owned by the endpoint until
	 * XOP_COMMIT completes; off: bytes already there (XCR_RESUME).  A
	 * refusal (SCP_E_PEER) pushed its messages to *msgs and cleared
	 * sk.
	 */
	XOP_CREATE,
	/*
	 * Finishes sink file `sk`: with XCM_WHOLE and `off` bytes (the
	 * size) it is closed, given its attributes and put in place;
	 * without, it is cleaned up (a partial cut clean below the first
	 * failed WRITE is kept for --resume).  rc 0 in place, SCP_E_PEER
	 * failed (or in place with an error, as OpenSSH's failed fsetstat),
	 * its messages pushed to *msgs.  `sk` is freed and cleared when it
	 * completes; until then the caller may still xep_sink_drop() it.
	 */
	XOP_COMMIT,
	/*
	 * A sink directory at `path` (relative to `dirfd` with XCR_AT;
	 * `path2`, if set, names it in messages; XCR_NOFOLLOW: never
	 * through a link), made if missing with the source's mode in `a`
	 * plus owner rwx (its files go in before its own mode is set)
	 * -> made (1: we made it, so nothing of ours is inside), fd (a
	 * local endpoint: the directory's descriptor, the caller's to
	 * close; else -1).  A refusal (SCP_E_PEER) pushed its messages.
	 */
	XOP_DIR,
};

/* XOP_CREATE flags. */
#define XCR_FRESH	0x01	/* in a directory just made: no target */
#define XCR_INPLACE	0x02	/* write the final name (--inplace) */
#define XCR_PRESERVE	0x04	/* -p: the source's mode and times */
#define XCR_RESUME	0x08	/* keep a partial of this source */
#define XCR_NOFOLLOW	0x10	/* a peer's name: never through a link */
#define XCR_AT		0x20	/* local: `path` is relative to dirfd */
/* XOP_COMMIT flags. */
#define XCM_WHOLE	0x01	/* every byte arrived: put it in place */
#define XCM_FSYNC	0x02	/* --fsync before it is put in place */
/* XOP_SETSTAT flags. */
#define XSS_UMASK	0x40	/* local: the mode less the umask */

struct xsink;

#define XOP_EOF	1

struct xop {
	enum xop_kind kind;
	void (*done)(struct xop *op);
	void *ctx;		/* the caller's */
	int tag;		/* the caller's */
	/* Inputs (as the kind says). */
	const char *path, *path2;
	uint32_t flags;
	uint64_t off;
	uint32_t len;
	const void *wdata;
	size_t wlen;
	const struct sftp_handle *h;
	struct xsink *sk;	/* WRITE, COPY, COMMIT; CREATE's output */
	struct strvec *msgs;	/* CREATE, COMMIT, LIST: messages */
	struct sftp_listing *ls;	/* READDIR, LIST */
	int dirfd;		/* CREATE with XCR_AT */
	/* Outputs. */
	int rc;
	uint32_t fx;
	struct sftp_attr a;	/* STAT/LSTAT; input of OPEN/SETSTAT */
	struct sftp_handle oh;	/* OPEN's handle */
	const uint8_t *data;	/* READ: valid only inside done() */
	size_t dlen;
	char *rpath;		/* REALPATH */
	int made, fd;		/* DIR */
	struct xop *qnext;	/* the endpoint's */
};

struct xep;

/*
 * An endpoint over SFTP session `s` (not owned: the caller frees it
 * after xep_free()).  Never fails.
 */
struct xep *xep_sftp(struct sftp_session *s);
/*
 * The local file system as an endpoint (sink files through
 * fs/outfile.h).  Never fails.
 */
struct xep *xep_local(void);

/* The session behind an SFTP endpoint (for what the engine does not
 * abstract yet: the walk's listings). */
struct sftp_session *xep_session(struct xep *e);

/* Frees the endpoint; its outstanding operations must be done or
 * forgotten.  NULL-safe. */
void xep_free(struct xep *e);

/*
 * Starts `op` (op->kind and its inputs filled).  0, or a negative
 * SCP_E_* when the endpoint broke (message printed; `op` will not
 * complete).
 */
int xep_start(struct xep *e, struct xop *op);

/*
 * Completes every operation whose answer has arrived, without blocking.
 * Returns how many completed (>= 0), or a negative SCP_E_* when the
 * endpoint broke.
 */
int xep_pump(struct xep *e);

/*
 * Sends what is batched; *fd is the descriptor to poll() for answers,
 * or -1 when none are outstanding.  0 or a negative SCP_E_*.
 */
int xep_prepare_wait(struct xep *e, int *fd);

/* Operations outstanding. */
size_t xep_outstanding(const struct xep *e);

/* Drops every outstanding operation without completing it. */
void xep_forget(struct xep *e);

/*
 * The transfer stopped (fatal `code`) with sink file `sk` open and
 * nothing outstanding on it: frees it, keeping what is surely written
 * for --resume where the endpoint can (an interruption or a lost
 * connection, not a protocol error).  NULL-safe.
 */
void xep_sink_drop(struct xep *e, struct xsink *sk, int code);

/* 1 if completions are waiting that xep_pump() runs without blocking
 * (a local endpoint's). */
int xep_ready(const struct xep *e);

/* 1 once the endpoint broke. */
int xep_dead(const struct xep *e);

/*
 * What the engine sizes itself by: block size for READ and WRITE,
 * requests in flight for one stream of blocks, handles it may hold
 * open (0 = no stated limit).
 */
uint32_t xep_read_len(const struct xep *e);
uint32_t xep_write_len(const struct xep *e);
uint32_t xep_nreq(const struct xep *e);
uint32_t xep_max_handles(const struct xep *e);
/* 1 if the endpoint can copy between two of its handles (XOP_COPY). */
int xep_can_copy(struct xep *e);
/* 1 if XOP_FSYNC is supported. */
int xep_can_fsync(struct xep *e);

/*
 * The far side broke the protocol in a way only the engine sees (data
 * and EOF that disagree): prints "scp: <msg>", marks the endpoint dead.
 * Returns SCP_E_FORMAT.
 */
int xep_fail(struct xep *e, const char *msg);

#endif
