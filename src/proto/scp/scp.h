/*
 * The legacy SCP/RCP protocol (PROTOCOL.md section 2): source and sink
 * over a pair of file descriptors.  Used by the client (upload = source,
 * download = sink) and by the server modes `scp -f` (source) and
 * `scp -t` (sink).
 *
 * Nothing here knows argv, the terminal beyond log.h/progress.h, or
 * exit(): fatal conditions come back as negative return values and the
 * caller (src/cli) decides the exit status.
 */
#ifndef SCP_PROTO_SCP_SCP_H
#define SCP_PROTO_SCP_SCP_H

#include <stddef.h>
#include <stdint.h>

#include "../../util/bwlimit.h"

struct scp_opts {
	int recursive;		/* -r */
	int preserve;		/* -p */
	int verbose;		/* -v: trace lines on stderr */
	int target_dir;		/* -d: the sink's target must be a directory */
	int remote;		/* server mode: errors go only to the peer */
	int no_name_check;	/* -T: skip the CVE-2019-6111 name check */
	int inplace;		/* --inplace: write final names directly */
	int progress;		/* draw the progress meter */
	uint64_t bwlimit_kbits;	/* -l, 0 = unlimited */
};

/* Read-ahead for record lines and replies (see scp_recv_byte). */
#define SCP_READAHEAD		4096

struct scp_conn {
	int rfd;		/* read records/data from the peer */
	int wfd;		/* write records/data to the peer */
	const struct scp_opts *o;
	int errs;		/* errors reported so far (exit status) */
	int broken;		/* connection lost or out of sync: stop */
	struct bwlimit bw;
	/*
	 * Bytes read from rfd but not yet consumed, rbuf[roff..rlen).
	 * Every read of rfd goes through these, so nothing read ahead
	 * is lost to the next record or to file data.
	 */
	unsigned char rbuf[SCP_READAHEAD];
	size_t roff, rlen;
};

/* Binds a connection to descriptors and options (kept by pointer). */
void scp_conn_init(struct scp_conn *c, int rfd, int wfd,
    const struct scp_opts *o);

/*
 * OpenSSH's run_err(): errs++, sends "\1scp: <msg>\n" to the peer while
 * the connection is usable, and prints "<msg>" on stderr unless in
 * server mode.
 */
void scp_run_err(struct scp_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Source side.  scp_source_start() waits for the sink's initial ready
 * byte (and reports a \1/\2 message instead).  scp_source_send() sends one
 * local operand: a file, or with -r a directory tree (symlinks followed).
 * Per-file problems are reported with scp_run_err and counted; the
 * return value is negative only when the connection is unusable
 * (SCP_E_CLOSED, SCP_E_PEER for a \2 reply, SCP_E_FORMAT for a bad
 * reply byte), in which case the caller stops (exit 1).
 */
int scp_source_start(struct scp_conn *c);
int scp_source_send(struct scp_conn *c, const char *path);

/*
 * Sink side: sends the ready byte and receives records until the peer
 * closes (or sends E at the top level), writing under `target`.
 * `requested` is the remote path that was asked for (client downloads),
 * used for the filename-vs-request check unless -r or -T; NULL in server
 * mode.  Returns 0 when the stream ended cleanly (errors may have been
 * counted), negative on a fatal protocol error or lost connection (the
 * message has been printed).
 */
int scp_sink(struct scp_conn *c, const char *target, const char *requested);

#endif
