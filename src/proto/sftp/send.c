/*
 * Requests out: composing one in s->wbuf and registering its id
 * (sftp_req_begin), batching small ones in s->obuf, writing them
 * (sftp_flush), and a WRITE's block sent without a copy.
 * PROTOCOL.md section 4.
 */
#include "wire.h"
#include "wire_int.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../transport/io.h"
#include "../../util/buf.h"
#include "../../util/err.h"
#include "../../util/xmalloc.h"

void
sftp_req_owner(struct sftp_session *s, const void *owner)
{
	s->owner = owner;
}

struct buf *
sftp_req_buf(struct sftp_session *s)
{
	return s->wbuf;
}

int
sftp_req_begin(struct sftp_session *s, uint8_t type, const void *owner,
    uint32_t *idp)
{
	struct sftp_req *rq;
	uint32_t id;
	int r;

	if (s->dead) {
		return SCP_E_FATAL;
	}
	id = s->next_id++;
	buf_reset(s->wbuf);
	if ((r = buf_put_u32(s->wbuf, 0)) != 0 ||
	    (r = buf_put_u8(s->wbuf, type)) != 0 ||
	    (r = buf_put_u32(s->wbuf, id)) != 0) {
		return sftp_fail(s, r, "compose request: %s",
		    scp_strerror(r));
	}
	if (s->nreqs == s->reqs_alloc) {
		s->reqs_alloc = s->reqs_alloc ? s->reqs_alloc * 2 : 64;
		s->reqs = xreallocarray(s->reqs, s->reqs_alloc,
		    sizeof(*s->reqs));
	}
	rq = &s->reqs[s->nreqs++];
	memset(rq, 0, sizeof(*rq));
	rq->id = id;
	rq->type = type;
	rq->owner = owner == s && s->owner != NULL ? s->owner : owner;
	if (idp != NULL) {
		*idp = id;
	}
	return 0;
}

/*
 * Whether the reply stream has ended: what is readable without blocking
 * is read and dropped (the session is dead anyway) until EOF shows or
 * nothing more is ready.  Bounded: a peer still sending is not closed.
 */
static int
peer_closed(struct sftp_session *s)
{
	struct pollfd pfd;
	uint8_t junk[4096];
	ssize_t n;
	int i;

	for (i = 0; i < 256; i++) {
		pfd.fd = s->rfd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, 0) != 1) {
			return 0;
		}
		if ((n = read(s->rfd, junk, sizeof(junk))) == 0) {
			return 1;
		}
		if (n < 0) {
			return errno == ECONNRESET;
		}
	}
	return 0;
}

/* A write to the server failed: the session is over. */
static int
send_failed(struct sftp_session *s)
{
	int e = errno;

	if (e == EINTR) {
		s->dead = 1;
		return SCP_E_INTR;
	}
	/*
	 * Requests go out without waiting for earlier replies, so a server
	 * that sent half a reply and exited is usually noticed by a write:
	 * say what the reader would have said, as OpenSSH's client (which
	 * was waiting for that reply) does.
	 */
	if ((e == EPIPE || e == ECONNRESET) && peer_closed(s)) {
		return sftp_fail(s, SCP_E_CLOSED, "Connection closed");
	}
	return sftp_fail(s, SCP_E_CLOSED, "Couldn't send packet: %s",
	    strerror(e));
}

int
sftp_flush(struct sftp_session *s)
{
	if (s->dead) {
		return SCP_E_FATAL;
	}
	if (s->obuf == NULL || buf_len(s->obuf) == 0) {
		return 0;
	}
	if (io_write_full(s->wfd, buf_ptr(s->obuf), buf_len(s->obuf)) != 0) {
		return send_failed(s);
	}
	buf_reset(s->obuf);
	s->nflush++;
	return 0;
}

/*
 * Whether the batch should go out now although it is not full: on a
 * long link (a round trip of SFTP_SHORT_RTT_US or more) once its oldest
 * request has waited SFTP_OBUF_HOLD_US, so that the server starts on the
 * first files while a slow walk goes on (500 files took 10 ms here, 80
 * ms under strace).  Short links keep the
 * batches whole: there a write(2) per few requests costs more than the
 * wait.
 */
static int
obuf_held(struct sftp_session *s)
{
	struct timespec now;
	int64_t us;

	if (!sftp_rtt_long(s)) {
		return 0;
	}
	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	if (buf_len(s->obuf) == buf_len(s->wbuf)) {
		s->obuf_t0 = now;
		return 0;
	}
	us = ((int64_t)now.tv_sec - (int64_t)s->obuf_t0.tv_sec) * 1000000 +
	    ((int64_t)now.tv_nsec - (int64_t)s->obuf_t0.tv_nsec) / 1000;
	return us >= SFTP_OBUF_HOLD_US;
}

int
sftp_req_send(struct sftp_session *s)
{
	size_t len = buf_len(s->wbuf);
	int r;

	if (s->dead) {
		return SCP_E_FATAL;
	}
	if (len < 5 || len - 4 > SFTP_MAX_MSG) {
		return sftp_fail(s, SCP_E_TOOBIG, "request too long");
	}
	if ((r = buf_poke_u32(s->wbuf, 0, (uint32_t)(len - 4))) != 0) {
		return sftp_fail(s, r, "compose request: %s",
		    scp_strerror(r));
	}
	bwlimit_account(&s->bw_out, len);
	/*
	 * Small requests wait in obuf; a large one (a WRITE's data) goes
	 * out directly after what is batched, never copied twice.
	 */
	if (s->obuf != NULL && len <= SFTP_OBUF_SMALL) {
		if (buf_len(s->obuf) + len > SFTP_OBUF_MAX &&
		    (r = sftp_flush(s)) != 0) {
			return r;
		}
		if ((r = buf_put(s->obuf, buf_ptr(s->wbuf), len)) != 0) {
			return sftp_fail(s, r, "compose request: %s",
			    scp_strerror(r));
		}
		return obuf_held(s) ? sftp_flush(s) : 0;
	}
	if ((r = sftp_flush(s)) != 0) {
		return r;
	}
	if (io_write_full(s->wfd, buf_ptr(s->wbuf), len) != 0) {
		return send_failed(s);
	}
	return 0;
}

int
sftp_req_send_data(struct sftp_session *s, const void *data, size_t n)
{
	size_t len = buf_len(s->wbuf);
	int r;

	if (s->dead) {
		return SCP_E_FATAL;
	}
	if (len + n + 4 <= SFTP_OBUF_SMALL || s->obuf == NULL) {
		/* Small: copied into the batch like any request. */
		if ((r = buf_put_string(s->wbuf, data, n)) != 0) {
			return sftp_fail(s, r, "compose request: %s",
			    scp_strerror(r));
		}
		return sftp_req_send(s);
	}
	if (len + 4 + n - 4 > SFTP_MAX_MSG || n > UINT32_MAX) {
		return sftp_fail(s, SCP_E_TOOBIG, "request too long");
	}
	if ((r = buf_put_u32(s->wbuf, (uint32_t)n)) != 0 ||
	    (r = buf_poke_u32(s->wbuf, 0,
	    (uint32_t)(buf_len(s->wbuf) + n - 4))) != 0) {
		return sftp_fail(s, r, "compose request: %s",
		    scp_strerror(r));
	}
	bwlimit_account(&s->bw_out, buf_len(s->wbuf) + n);
	/* The block goes out from where it is: no copy into wbuf. */
	if ((r = sftp_flush(s)) != 0) {
		return r;
	}
	if (io_write_full(s->wfd, buf_ptr(s->wbuf), buf_len(s->wbuf)) != 0 ||
	    io_write_full(s->wfd, data, n) != 0) {
		return send_failed(s);
	}
	return 0;
}
