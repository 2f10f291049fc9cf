/*
 * Between the files of the wire only (msg.c, send.c, reply.c, status.c,
 * session.c, negotiate.c, request.c, readdir.c): the pieces one of them
 * lends another.  Transfers and tests use wire.h.  Returns as wire.h
 * says: 0 or a negative SCP_E_* code, SCP_E_PEER for an error STATUS.
 */
#ifndef SCP_PROTO_SFTP_WIRE_INT_H
#define SCP_PROTO_SFTP_WIRE_INT_H

#include <stdint.h>
#include <time.h>

#include "wire.h"

struct buf;

/*
 * msg.c: sftp_msg_read() through the session's read-ahead: many small
 * replies cost one read(2); the body of a large one beyond what is
 * buffered is read straight into its buffer.  Batched requests are
 * flushed before any read that may block.  *out as sftp_msg_read's.
 */
int sftp_sess_msg_read(struct sftp_session *s, struct buf **out);

/*
 * negotiate.c: the session's own messages, for reply.c's reader:
 * VERSION (b is the whole message, freed; t1 when it arrived): parses it
 * and sends the limits query.  The limits reply (type and body after
 * the id, freed): applies it.  0 or a negative SCP_E_* (message
 * printed).
 */
int sftp_version_take(struct sftp_session *s, struct buf *b,
    const struct timespec *t1);
int sftp_limits_take(struct sftp_session *s, uint32_t id, uint8_t type,
    struct buf *b, const struct timespec *t1);

/*
 * status.c: waits for a reply of type `want` to `id` (or a STATUS,
 * turned into SCP_E_PEER; an OK STATUS is a protocol error).  On 0
 * *body is the caller's to free.  sftp_send_and_wait() sends the
 * request composed in s->wbuf first.
 */
/* A reply that must be of type `want`: a STATUS is SCP_E_PEER (an OK one
 * a protocol error), another type a protocol error; `b` is freed unless
 * 0 is returned. */
int sftp_check_typed(struct sftp_session *s, uint8_t type, struct buf *b,
    uint8_t want);
int sftp_wait_typed(struct sftp_session *s, uint32_t id, uint8_t want,
    struct buf **body);
int sftp_send_and_wait(struct sftp_session *s, uint32_t id, uint8_t want,
    struct buf **body);

/* request.c: appends handle `h` to the request being composed. */
int sftp_put_handle(struct sftp_session *s, const struct sftp_handle *h);

#endif
