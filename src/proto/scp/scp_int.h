/*
 * Helpers shared by source.c and sink.c (not a public API).
 */
#ifndef SCP_PROTO_SCP_SCP_INT_H
#define SCP_PROTO_SCP_SCP_INT_H

#include <stddef.h>
#include <sys/types.h>

#include "scp.h"

/* Longest record or message line, newline included (OpenSSH's buf). */
#define SCP_LINE_MAX		2048
/*
 * Transfer block: file reads and wire writes of the source, wire reads
 * and file writes of the sink.  OpenSSH uses COPY_BUFLEN (16 KiB), but
 * sshd and ssh read channel data 32 KiB at a time: a source writing 16
 * KiB blocks gets 16 KiB SSH packets, one writing 64 KiB gets full 32
 * KiB ones, and makes a third of the read and write calls on a mixed
 * tree.  st_blksize rounds it up.
 */
#define SCP_BLOCK		65536
#define SCP_BLOCK_MAX		(1024 * 1024)
/* The -l limiter's first threshold: OpenSSH's COPY_BUFLEN. */
#define SCP_BW_BUFLEN		16384
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

/*
 * Reads from the peer.  Bytes already read ahead come first; otherwise
 * one read of rfd, so a call never waits for more than the peer has
 * sent.  scp_recv_byte: 1 with *ch, 0 at end of stream, -1 with errno.
 * scp_recv_some: at most n bytes (at least one unless at end of stream:
 * 0), -1 with errno; with nothing read ahead it reads straight into p,
 * and with `ahead` whatever the peer sent beyond n is kept in the
 * read-ahead (the sink's last block of a file: the status byte comes
 * with it).  scp_recv_full: n bytes unless the stream ends first (short
 * count), -1 with errno.
 */
int scp_recv_byte(struct scp_conn *c, unsigned char *ch);
ssize_t scp_recv_some(struct scp_conn *c, void *p, size_t n, int ahead);
ssize_t scp_recv_full(struct scp_conn *c, void *p, size_t n, int ahead);

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
