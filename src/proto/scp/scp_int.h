/*
 * Helpers shared by source.c and sink.c (not a public API).
 */
#ifndef SCP_PROTO_SCP_SCP_INT_H
#define SCP_PROTO_SCP_SCP_INT_H

#include <stddef.h>

#include "scp.h"

/* Longest record or message line, newline included (OpenSSH's buf). */
#define SCP_LINE_MAX		2048
/* Transfer block: OpenSSH's COPY_BUFLEN; st_blksize rounds it up. */
#define SCP_BLOCK		16384
#define SCP_BLOCK_MAX		(1024 * 1024)
/* Deepest directory nesting we send or accept. */
#define SCP_DEPTH_MAX		64

/*
 * A -v trace line on stderr: sanitised, printed even in server mode
 * (OpenSSH's fmprintf(stderr, ...) in source()/sink()).  A trailing
 * newline in the formatted text is dropped; one is always added.
 */
void scp_trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Writes all of p[0..n) to the peer.  0, or SCP_E_CLOSED (c->broken). */
int scp_send(struct scp_conn *c, const void *p, size_t n);

/* Sends the one-byte "\0" acknowledgement. */
int scp_ack(struct scp_conn *c);

/*
 * OpenSSH's response(): reads one reply.  \0 -> 0 with *warned = 0.
 * \1 msg -> message printed (client only), errs++, 0 with *warned = 1.
 * \2 msg -> printed, SCP_E_PEER.  Any other byte starts a message:
 * printed, SCP_E_FORMAT.  EOF -> "lost connection", SCP_E_CLOSED.  The
 * negative cases mark the connection broken.
 */
int scp_response(struct scp_conn *c, int *warned);

/* Block size for a descriptor: st_blksize rounded up to SCP_BLOCK. */
size_t scp_blocksize(int fd);

#endif
