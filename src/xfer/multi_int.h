/*
 * Between the files of the split-file copy only (multi.c, multi_sched.c,
 * multi_pipe.c, multi_up.c, multi_down.c): one big regular file over
 * several SFTP sessions to the same server.  The rest of the client
 * uses transfer.h (sftp_multi_upload, sftp_multi_download,
 * sftp_multi_possible) and sftp.h (the peer provider).
 *
 * Ownership: a `struct multi` lives on the stack of sftp_multi_upload()
 * or sftp_multi_download() for one file.  The sessions in it are the
 * provider's (never freed here); the request queues and WRITE blocks of
 * each mpeer are the struct's own, released by multi_free().  A session
 * that breaks is marked dead (p->dead, and s->dead where the wire says
 * so) and stays out of the rest of the file.
 *
 * Returns: 0 or a negative SCP_E_* code (a fatal of that session: the
 * wire printed it), unless a function says otherwise; errors the
 * server answers with a STATUS are recorded in the struct (m->status,
 * m->failed) and printed by multi_up.c or multi_down.c once.
 */
#ifndef SCP_PROTO_SFTP_MULTI_INT_H
#define SCP_PROTO_SFTP_MULTI_INT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../proto/sftp/glob.h"
#include "../proto/sftp/wire.h"
#include "transfer.h"

struct buf;
struct outfile;

/* Sessions one file may use (the first included). */
#define MULTI_MAX		16
/* Room for a WRITE's header: length, type, id, handle, offset, length. */
#define MULTI_HDR_MAX		(4 + 1 + 4 + 4 + SFTP_MAX_HANDLE + 8 + 4)

/* A READ or WRITE in flight. */
struct mreq {
	uint32_t id;
	uint64_t off;
	uint32_t len;
};

/* One session's part in the file: its handle, chunk and pipeline. */
struct mpeer {
	struct sftp_session *s;
	struct sftp_handle h;
	int open;		/* h is valid */
	int joining;		/* its OPEN (open_id) is in flight */
	uint32_t open_id;
	int closing;		/* its CLOSE (close_id) is in flight */
	uint32_t close_id;
	int dead;		/* the session broke during this file */
	uint64_t cur, end;	/* the part of its chunk not yet asked */
	uint64_t inflight;	/* bytes asked and not yet answered */
	struct mreq *q;		/* outstanding requests */
	size_t nq, aq;
	/*
	 * Uploads: the WRITE being sent without blocking, hdr[hoff..hlen)
	 * then blk[doff..dlen); a full socket leaves the rest for when
	 * poll says it has room, so one channel whose window is shut never
	 * stalls the others.
	 */
	uint8_t hdr[MULTI_HDR_MAX];
	size_t hlen, hoff;
	uint8_t *blk;
	size_t dlen, doff;
	int blocking;		/* not a socket: plain blocking writes */
};

/* The file being copied, and how far each part of it got. */
struct multi {
	struct mpeer p[MULTI_MAX];
	size_t n;
	int upload;
	int fd;			/* uploads: the local source */
	struct outfile *of;	/* downloads: the local target */
	uint64_t size, next, done;
	int failed;		/* stop sending: an error or a stop */
	int fatal;		/* first session's fatal code, or 0 */
	int peer_fatal;		/* another session's fatal code, or 0 */
	uint32_t status;	/* first error STATUS, 0 if none */
	int local_err;		/* errno of a local read/write failure */
	uint64_t eof_at;	/* downloads: lowest EOF seen */
	uint64_t hole;		/* lowest offset failed or not asked again */
	int wanted;		/* the provider gave a session (maybe only
				 * s itself: none ready yet) */
	const char *path;	/* what joining sessions OPEN, and how */
	uint32_t pflags;
	struct timespec asked;	/* the provider was last asked then */
	const char *rpath;	/* uploads: the target, for close errors */
};

/* ---- multi.c: which sessions take part ---- */

/* Sets `m` up for one file on `s` and asks the provider for extra
 * sessions (m->p[1..], m->n); m->wanted says whether to split. */
void multi_peers(struct multi *m, struct sftp_session *s, uint64_t size);
/* Sends OPEN of `path` (`pflags`) on m->p[1..n) without waiting; each
 * joins when its HANDLE arrives (multi_joined).  A session whose OPEN
 * cannot be sent is marked dead. */
void multi_join(struct multi *m, const char *path, uint32_t pflags);
/* Asks the provider again, at most every 10 ms while data is left to
 * hand out, and sends OPEN on the sessions it adds.  Returns the poll
 * timeout in ms until the next ask, or -1 (no more asks). */
int multi_more(struct multi *m);
/* Takes the OPEN reply (type, b: freed) of joining session `p`.  A
 * refusal leaves it out of this file (0); a fatal is returned. */
int multi_joined(struct mpeer *p, uint8_t type, struct buf *b);
/* Waits for OPENs still in flight, then sends CLOSE on every open handle
 * of m->p[from..n) and flushes them together (multi_close_wait() takes
 * the replies). */
void multi_close_send(struct multi *m, size_t from);
/* The replies to multi_close_send(): 1 if a server refused a CLOSE
 * (data may be lost; printed with `path`), 0, or the first session's
 * fatal (only when `from` is 0). */
int multi_close_wait(struct multi *m, size_t from, const char *path);
/* multi_close_send() and multi_close_wait() in one. */
int multi_close(struct multi *m, size_t from, const char *path);
/* Frees the request queues and blocks; forgets requests still owned. */
void multi_free(struct multi *m);

/* ---- multi_sched.c: the chunks ---- */

/* Starts the schedule of `size` bytes: nothing handed out, no hole. */
void multi_plan(struct multi *m, uint64_t size);
/* Gives `p`, its chunk used up, the next chunk [p->cur, p->end): what
 * is left over twice the live sessions, within 1-32 MiB.  1, or 0 when
 * every byte is handed out already. */
int multi_take_chunk(struct multi *m, struct mpeer *p);
/* Bytes from offset 0 known to be written whole. */
uint64_t multi_contig(const struct multi *m);

/* ---- multi_pipe.c: the pipelines and the poll loop ---- */

/* Records the first error STATUS `code` and stops sending. */
void multi_status(struct multi *m, uint32_t code);
/*
 * Runs the transfer until every byte is done or, after a failure, every
 * request still in flight is answered.  0 (the outcome is in the
 * struct: failed, fatal, peer_fatal, status, local_err, done) or
 * SCP_E_INTR on an interruption, every request forgotten.
 */
int multi_run(struct multi *m);

#endif
