/*
 * SFTP mode (PROTOCOL.md section 4): the sessions src/cli opens and
 * src/xfer transfers over (the transfers themselves: xfer/xfer.h).
 *
 * A session speaks SFTP v3 (draft-ietf-secsh-filexfer-02, plus OpenSSH's
 * extensions) over a pair of descriptors, normally the stdio of
 * `ssh -s host sftp` or of a local sftp-server (-D).  Protocol code never
 * exits: each call returns
 *    0  everything asked was copied,
 *    1  errors were reported ("scp: ..." on stderr) but the session is
 *       still usable and later operands may proceed,
 *   <0  the session is unusable (malformed reply, lost connection:
 *       SCP_E_CLOSED; interrupt: SCP_E_INTR); the message has been
 *       printed.
 * docs/protocol-sftp.md describes what is spoken and validated.
 */
#ifndef SCP_PROTO_SFTP_SFTP_H
#define SCP_PROTO_SFTP_SFTP_H

#include <stddef.h>
#include <stdint.h>

struct sftp_opts {
	int recursive;		/* -r */
	int preserve;		/* -p */
	int verbose;		/* -v */
	int progress;		/* draw the progress meter */
	int inplace;		/* --inplace: no temp name + rename */
	int resume;		/* --resume: continue verified partials,
				 * skip complete files (docs/SAFETY.md) */
	int fsync;		/* --fsync: fsync@openssh.com on uploads,
				 * fsync(2) on downloads */
	uint64_t bwlimit_kbits;	/* -l, 0 = unlimited */
	uint32_t buffer_len;	/* -X buffer=, 0 = automatic */
	uint32_t nrequests;	/* -X nrequests=, 0 = automatic */
	int defer;		/* sftp_upload() may return before its files
				 * arrived: see sftp_upload_flush() */
	int local;		/* -D: the server is a program of ours, no
				 * link between: the round trip is known
				 * short from the start and never timed */
};

struct sftp_session;

/*
 * Sends INIT, reads VERSION and the extensions, queries
 * limits@openssh.com when offered.  `o` is kept by pointer.  On success
 * *out is a new session the caller frees with sftp_session_free().
 * Returns 0 or a negative SCP_E_* code (message printed, including
 * OpenSSH's hint when the shell printed text before the SFTP stream).
 */
int sftp_session_open(struct sftp_session **out, int rfd, int wfd,
    const struct sftp_opts *o);

/*
 * As sftp_session_open() but returns once INIT is written: requests may
 * follow at once, and VERSION is read before the first reply (a round
 * trip less).  A server that fails before VERSION shows on the first
 * wait, and sftp_session_broken_early() says so.  Extensions are known
 * only after sftp_session_version().
 */
int sftp_session_start(struct sftp_session **out, int rfd, int wfd,
    const struct sftp_opts *o);

/* Waits for VERSION if it has not been read.  0 or a negative SCP_E_*
 * (message printed, session dead). */
int sftp_session_version(struct sftp_session *s);

/* Frees the session; does not close the descriptors.  NULL-safe. */
void sftp_session_free(struct sftp_session *s);

/*
 * 1 if `s` offers copy-data: xfer_relay(s, .., s, ..) (src/xfer) then
 * has the server copy within itself instead of relaying the bytes
 * through us.
 */
int sftp_can_copy_data(struct sftp_session *s);

/*
 * Several sessions for one big file (multi.c, docs/design-speed.md).
 * A provider of extra sessions to the same server, asked when a regular
 * file of `size` bytes that a transfer may split starts, and again every
 * 10 ms while it is copied (channels still opening join then): it
 * stores up to `max` usable sessions (still owned by the provider;
 * `rtt_us` is the first session's measured round trip) in out[] and
 * returns how many.  0 means "copy on `s` alone"; `s` itself alone
 * means "split, but no other session is ready yet".  Not asked with
 * --resume, --inplace or -l.
 */
typedef size_t sftp_peers_fn(void *ctx, struct sftp_session *s,
    uint64_t size, uint32_t rtt_us, struct sftp_session **out, size_t max);

/* Attaches the provider (NULL: none) to `s`. */
void sftp_session_set_peers(struct sftp_session *s, sftp_peers_fn *fn,
    void *ctx);

/*
 * The round trip of `s` in microseconds: limits@openssh.com's once a
 * transfer has collected it, INIT->VERSION before.
 */
uint32_t sftp_session_rtt(const struct sftp_session *s);

/*
 * Whether `s` died before VERSION or before its first exchange after it
 * completed (the limits@openssh.com reply, taken lazily, never arrived):
 * a set-up failure, fatal (exit 255) as when it happened inside
 * sftp_session_open().
 */
int sftp_session_broken_early(const struct sftp_session *s);

#endif
