/*
 * SFTP framing (u32 length || type || body) and the table of outstanding
 * requests.  PROTOCOL.md section 4; draft-ietf-secsh-filexfer-02 section 3.
 *
 * Every request registers its id here; every reply must answer an
 * outstanding request with a type that fits that request.  Replies that
 * arrive for a request other than the one being waited for are kept in
 * the table until their owner collects them, so any number of requests
 * of any kind (several files at once) may be in flight.
 */
#include "sftp_int.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "../../transport/io.h"
#include "../../util/buf.h"
#include "../../util/err.h"
#include "../../util/log.h"
#include "../../util/xmalloc.h"

int
sftp_fail(struct sftp_session *s, int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Report only the first failure: later ones are consequences. */
	if (s == NULL || !s->dead) {
		log_error("%s", msg);
	}
	if (s != NULL) {
		s->dead = 1;
	}
	return code;
}

const char *
sftp_fx2txt(uint32_t status)
{
	switch (status) {
	case SSH2_FX_OK:
		return "No error";
	case SSH2_FX_EOF:
		return "End of file";
	case SSH2_FX_NO_SUCH_FILE:
		return "No such file or directory";
	case SSH2_FX_PERMISSION_DENIED:
		return "Permission denied";
	case SSH2_FX_FAILURE:
		return "Failure";
	case SSH2_FX_BAD_MESSAGE:
		return "Bad message";
	case SSH2_FX_NO_CONNECTION:
		return "No connection";
	case SSH2_FX_CONNECTION_LOST:
		return "Connection lost";
	case SSH2_FX_OP_UNSUPPORTED:
		return "Operation unsupported";
	default:
		return "Unknown status";
	}
}

int
sftp_msg_check_len(uint32_t len)
{
	if (len == 0) {
		return SCP_E_FORMAT;
	}
	if (len > SFTP_MSG_CAP) {
		return SCP_E_TOOBIG;
	}
	return 0;
}

static int
read_errno_code(void)
{
	if (errno == EINTR) {
		return SCP_E_INTR;
	}
	if (errno == ETIMEDOUT) {
		return SCP_E_TIMEOUT;
	}
	return SCP_E_SYS;
}

/*
 * A failed read: a peer that went away with our request unread shows as
 * ECONNRESET (or EPIPE) on the socketpair; OpenSSH's get_msg() calls
 * that "Connection closed" like a plain EOF (obs: scp -S /bin/false).
 */
static int
read_failed(int r)
{
	if (errno == ECONNRESET || errno == EPIPE) {
		log_error("Connection closed");
		return SCP_E_CLOSED;
	}
	log_error("Couldn't read packet: %s", strerror(errno));
	return r;
}

/*
 * Decodes and checks the length prefix `p` of a message, printing
 * OpenSSH's messages for a bad one.  Returns as sftp_msg_check_len().
 */
static int
msg_len(const uint8_t p[4], uint32_t *len)
{
	int r;

	*len = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
	if ((r = sftp_msg_check_len(*len)) == SCP_E_TOOBIG) {
		/*
		 * Usually text from the remote shell's startup files read
		 * as a length; OpenSSH's hint.
		 */
		log_error("Received message too long %u", *len);
		log_error("Ensure the remote shell produces no output "
		    "for non-interactive sessions.");
	} else if (r != 0) {
		log_error("Received empty message");
	}
	return r;
}

int
sftp_msg_read(int fd, struct buf **out)
{
	uint8_t lenbuf[4], *p;
	struct buf *b = NULL;
	uint32_t len;
	ssize_t n;
	int r;

	*out = NULL;
	n = io_read_full(fd, lenbuf, sizeof(lenbuf));
	if (n < 0) {
		r = read_errno_code();
		if (r == SCP_E_INTR) {
			return r;
		}
		return read_failed(r);
	}
	if ((size_t)n < sizeof(lenbuf)) {
		log_error("Connection closed");
		return SCP_E_CLOSED;
	}
	if ((r = msg_len(lenbuf, &len)) != 0) {
		return r;
	}
	if ((b = buf_new(len)) == NULL) {
		log_error("out of memory");
		return SCP_E_NOMEM;
	}
	if ((r = buf_reserve(b, len, &p)) != 0) {
		buf_free(b);
		return r;
	}
	n = io_read_full(fd, p, len);
	if (n < 0) {
		r = read_errno_code();
		buf_free(b);
		return r == SCP_E_INTR ? r : read_failed(r);
	}
	if ((size_t)n < len) {
		log_error("Connection closed");
		buf_free(b);
		return SCP_E_CLOSED;
	}
	*out = b;
	return 0;
}

/*
 * Refills the read-ahead so that at least `want` bytes (at most
 * SFTP_IBUF_LEN) are buffered.  0, or a code as sftp_msg_read's with the
 * message printed.
 */
static int
ibuf_fill(struct sftp_session *s, size_t want)
{
	ssize_t n;
	int r;

	if (s->ioff > 0) {
		memmove(s->ibuf, s->ibuf + s->ioff, s->ilen - s->ioff);
		s->ilen -= s->ioff;
		s->ioff = 0;
	}
	while (s->ilen < want) {
		/*
		 * Whatever we wait for may be among the batched requests:
		 * out they go before we block.  Replies already read ahead
		 * are taken first, so a burst of them costs one write.
		 */
		if ((r = sftp_flush(s)) != 0) {
			return r;
		}
		n = io_read_some(s->rfd, s->ibuf + s->ilen,
		    SFTP_IBUF_LEN - s->ilen);
		if (n < 0) {
			r = read_errno_code();
			return r == SCP_E_INTR ? r : read_failed(r);
		}
		if (n == 0) {
			log_error("Connection closed");
			return SCP_E_CLOSED;
		}
		s->ilen += (size_t)n;
	}
	return 0;
}

/*
 * sftp_msg_read() through the session's read-ahead: many small replies
 * cost one read(2); the body of a large one beyond what is buffered is
 * read straight into its buffer.
 */
static int
sess_msg_read(struct sftp_session *s, struct buf **out)
{
	struct buf *b;
	uint8_t *p;
	uint32_t len;
	size_t have;
	ssize_t n;
	int r;

	*out = NULL;
	if (s->ibuf == NULL) {
		if ((r = sftp_flush(s)) != 0) {
			return r;
		}
		return sftp_msg_read(s->rfd, out);
	}
	if (s->ilen - s->ioff < 4 && (r = ibuf_fill(s, 4)) != 0) {
		return r;
	}
	if ((r = msg_len(s->ibuf + s->ioff, &len)) != 0) {
		return r;
	}
	s->ioff += 4;
	if ((b = buf_new(len)) == NULL) {
		log_error("out of memory");
		return SCP_E_NOMEM;
	}
	if ((r = buf_reserve(b, len, &p)) != 0) {
		buf_free(b);
		return r;
	}
	have = s->ilen - s->ioff;
	if (have > len) {
		have = len;
	}
	memcpy(p, s->ibuf + s->ioff, have);
	s->ioff += have;
	if (s->ioff == s->ilen) {
		s->ioff = s->ilen = 0;
	}
	if (have < len) {
		if ((r = sftp_flush(s)) != 0) {
			buf_free(b);
			return r;
		}
		n = io_read_full(s->rfd, p + have, len - have);
		if (n < 0) {
			r = read_errno_code();
			buf_free(b);
			return r == SCP_E_INTR ? r : read_failed(r);
		}
		if ((size_t)n < len - have) {
			log_error("Connection closed");
			buf_free(b);
			return SCP_E_CLOSED;
		}
	}
	*out = b;
	return 0;
}

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

/* Whether request `id` is the session's own (a limits query), which
 * reply_receive() takes and nobody else waits for. */
static int
own_req(const struct sftp_session *s, uint32_t id)
{
	return id != 0 && (id == s->limits_id || id == s->rtt_id);
}

static ssize_t
req_find(const struct sftp_session *s, uint32_t id)
{
	size_t i;

	for (i = 0; i < s->nreqs; i++) {
		if (s->reqs[i].id == id) {
			return (ssize_t)i;
		}
	}
	return -1;
}

static void
req_remove(struct sftp_session *s, size_t i)
{
	buf_free(s->reqs[i].reply);
	s->reqs[i] = s->reqs[s->nreqs - 1];
	s->nreqs--;
}

size_t
sftp_req_count(const struct sftp_session *s, const void *owner)
{
	size_t i, n = 0;

	for (i = 0; i < s->nreqs; i++) {
		if (!own_req(s, s->reqs[i].id) &&
		    (owner == NULL ? s->reply_hold == NULL ||
		    s->reqs[i].owner != s->reply_hold :
		    s->reqs[i].owner == owner)) {
			n++;
		}
	}
	return n;
}

void
sftp_req_forget(struct sftp_session *s, const void *owner)
{
	size_t i = 0;

	while (i < s->nreqs) {
		if (!own_req(s, s->reqs[i].id) &&
		    (owner == NULL || s->reqs[i].owner == owner)) {
			req_remove(s, i);
		} else {
			i++;
		}
	}
}

/* Whether reply type `rt` may answer a request of type `qt`. */
static int
reply_fits(uint8_t qt, uint8_t rt)
{
	if (rt == SSH2_FXP_STATUS) {
		return 1;
	}
	switch (qt) {
	case SSH2_FXP_OPEN:
	case SSH2_FXP_OPENDIR:
		return rt == SSH2_FXP_HANDLE;
	case SSH2_FXP_READ:
		return rt == SSH2_FXP_DATA;
	case SSH2_FXP_READDIR:
	case SSH2_FXP_REALPATH:
	case SSH2_FXP_READLINK:
		return rt == SSH2_FXP_NAME;
	case SSH2_FXP_STAT:
	case SSH2_FXP_LSTAT:
	case SSH2_FXP_FSTAT:
		return rt == SSH2_FXP_ATTRS;
	case SSH2_FXP_EXTENDED:
		/* expand-path@openssh.com answers with NAME. */
		return rt == SSH2_FXP_EXTENDED_REPLY || rt == SSH2_FXP_NAME;
	default:
		return 0;
	}
}

/*
 * Reads one message and files it under its request: 0 with the index
 * of that request in the table.  The session's own messages are taken
 * here, whoever is waiting: VERSION, when sftp_session_start() did not
 * wait for it, and the limits@openssh.com reply (client.c).  For those
 * it returns 1 and files nothing.  Else a negative code, session dead.
 */
static int
reply_receive(struct sftp_session *s, size_t *idx)
{
	struct buf *b = NULL;
	struct timespec t1;
	uint8_t type;
	uint32_t id;
	ssize_t i;
	int r;

	if (s->dead) {
		return SCP_E_FATAL;
	}
	if ((r = sess_msg_read(s, &b)) != 0) {
		s->dead = 1;
		return r;
	}
	(void)clock_gettime(CLOCK_MONOTONIC, &t1);
	if (s->version_pending) {
		if ((r = sftp_version_take(s, b, &t1)) != 0) {
			s->dead = 1;
			return r;
		}
		return 1;
	}
	bwlimit_account(&s->bw_in, buf_len(b) + 4);
	if ((r = buf_get_u8(b, &type)) != 0 ||
	    (r = buf_get_u32(b, &id)) != 0) {
		buf_free(b);
		return sftp_fail(s, SCP_E_FORMAT, "Received short message");
	}
	if ((i = req_find(s, id)) < 0 || s->reqs[i].reply != NULL) {
		buf_free(b);
		return sftp_fail(s, SCP_E_FORMAT, "Unexpected reply %u", id);
	}
	if (!reply_fits(s->reqs[i].type, type)) {
		buf_free(b);
		return sftp_fail(s, SCP_E_FORMAT,
		    "Unexpected reply type %u to request type %u (id %u)",
		    type, s->reqs[i].type, id);
	}
	if (own_req(s, id)) {
		req_remove(s, (size_t)i);
		if ((r = sftp_limits_take(s, id, type, b, &t1)) != 0) {
			s->dead = 1;
			return r;
		}
		return 1;
	}
	s->reqs[i].reply = b;
	s->reqs[i].rtype = type;
	s->reqs[i].rseq = ++s->rseq;
	s->last_reply_t = t1;
	*idx = (size_t)i;
	return 0;
}

int
sftp_reply_pump(struct sftp_session *s)
{
	size_t got;
	int r;

	r = reply_receive(s, &got);
	return r < 0 ? r : 0;
}

static void
reply_take(struct sftp_session *s, size_t i, uint32_t *id, uint8_t *type,
    struct buf **body)
{
	if (id != NULL) {
		*id = s->reqs[i].id;
	}
	*type = s->reqs[i].rtype;
	*body = s->reqs[i].reply;
	s->reqs[i].reply = NULL;
	req_remove(s, i);
}

int
sftp_reply_wait(struct sftp_session *s, uint32_t id, uint8_t *type,
    struct buf **body)
{
	ssize_t i;
	size_t got;
	int r;

	*body = NULL;
	if ((i = req_find(s, id)) < 0) {
		return sftp_fail(s, SCP_E_FORMAT,
		    "internal error: waiting for unknown request %u", id);
	}
	while (s->reqs[i].reply == NULL) {
		if ((r = reply_receive(s, &got)) < 0) {
			return r;
		}
		if ((i = req_find(s, id)) < 0) {
			return SCP_E_FATAL;
		}
	}
	reply_take(s, (size_t)i, NULL, type, body);
	return 0;
}

/*
 * The index of the oldest buffered reply for `owner` (any owner when
 * `any`), or -1; *have counts the owner's outstanding requests.
 */
static ssize_t
oldest_reply(const struct sftp_session *s, const void *owner, int any,
    size_t *have)
{
	ssize_t best = -1;
	size_t i;

	*have = 0;
	for (i = 0; i < s->nreqs; i++) {
		/* The session's own, taken by reply_receive(); held ones
		 * only go to sftp_reply_wait(). */
		if (own_req(s, s->reqs[i].id) ||
		    (!any && s->reqs[i].owner != owner) ||
		    (any && s->reply_hold != NULL &&
		    s->reqs[i].owner == s->reply_hold)) {
			continue;
		}
		(*have)++;
		if (s->reqs[i].reply != NULL && (best < 0 ||
		    s->reqs[i].rseq < s->reqs[best].rseq)) {
			best = (ssize_t)i;
		}
	}
	return best;
}

/*
 * The next reply for `owner`: buffered ones first in arrival order, then
 * messages as they are read, other owners' filed for them.  `wait`: read
 * until one comes (an owner with nothing outstanding is an internal
 * error); else only what sits whole in the read-ahead, *body NULL when
 * nothing of `owner`'s is there.
 */
static int
reply_for(struct sftp_session *s, const void *owner, int wait,
    uint32_t *id, uint8_t *type, struct buf **body)
{
	size_t got = 0, have;
	ssize_t i;
	int r;

	*body = NULL;
	if ((i = oldest_reply(s, owner, 0, &have)) >= 0) {
		reply_take(s, (size_t)i, id, type, body);
		return 0;
	}
	if (wait && have == 0) {
		return sftp_fail(s, SCP_E_FORMAT,
		    "internal error: no outstanding request");
	}
	while (have > 0 && (wait || sftp_msg_buffered(s))) {
		if ((r = reply_receive(s, &got)) < 0) {
			return r;
		}
		if (r > 0) {
			/* The session's own (its request is gone). */
			(void)oldest_reply(s, owner, 0, &have);
			continue;
		}
		if (s->reqs[got].owner == owner) {
			reply_take(s, got, id, type, body);
			return 0;
		}
	}
	return 0;
}

int
sftp_reply_next(struct sftp_session *s, const void *owner, uint32_t *id,
    uint8_t *type, struct buf **body)
{
	return reply_for(s, owner, 1, id, type, body);
}

int
sftp_reply_any(struct sftp_session *s, const void **owner, uint32_t *id,
    uint8_t *type, struct buf **body)
{
	size_t got = 0, have;
	ssize_t i;
	int r;

	*body = NULL;
	while ((i = oldest_reply(s, NULL, 1, &have)) < 0) {
		if (have == 0) {
			return sftp_fail(s, SCP_E_FORMAT,
			    "internal error: no outstanding request");
		}
		if ((r = reply_receive(s, &got)) < 0) {
			return r;
		}
	}
	*owner = s->reqs[i].owner;
	reply_take(s, (size_t)i, id, type, body);
	return 0;
}

int
sftp_parse_status(struct buf *b, uint32_t *code, char **msg)
{
	int r;

	if (msg != NULL) {
		*msg = NULL;
	}
	if ((r = buf_get_u32(b, code)) != 0) {
		return SCP_E_FORMAT;
	}
	/* The message and language tag are optional in practice. */
	if (buf_len(b) == 0 || msg == NULL) {
		return 0;
	}
	if ((r = buf_get_cstring(b, msg, NULL, 8192)) != 0) {
		return SCP_E_FORMAT;
	}
	return 0;
}

/* ---- reads that never block, for engines polling several sessions ---- */

/* The read-ahead of such a session: one whole message of the largest
 * size plus the start of the next. */
#define IBUF_WHOLE	(4 + SFTP_MSG_CAP + SFTP_IBUF_LEN)

int
sftp_msg_buffered(const struct sftp_session *s)
{
	const uint8_t *p;
	uint32_t len;

	if (s->ibuf == NULL || s->ilen - s->ioff < 4) {
		return 0;
	}
	p = s->ibuf + s->ioff;
	len = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
	/* A bad length is reported by the read that takes it. */
	if (sftp_msg_check_len(len) != 0) {
		return 1;
	}
	return s->ilen - s->ioff - 4 >= len;
}

int
sftp_read_ready(struct sftp_session *s)
{
	struct pollfd pfd;
	size_t have, need;
	uint32_t len;
	ssize_t n;
	int r;

	if (s->dead) {
		return SCP_E_FATAL;
	}
	if (s->ibuf == NULL) {
		/* Before the read-ahead exists: a read may block. */
		return 1;
	}
	if (sftp_msg_buffered(s)) {
		return 1;
	}
	if (s->icap < IBUF_WHOLE) {
		s->ibuf = xreallocarray(s->ibuf, 1, IBUF_WHOLE);
		s->icap = IBUF_WHOLE;
	}
	/* Room for the rest of the message begun (its length is known
	 * once 4 bytes are in): move it to the front only then. */
	have = s->ilen - s->ioff;
	need = 4;
	if (have >= 4) {
		len = (uint32_t)s->ibuf[s->ioff] << 24 |
		    (uint32_t)s->ibuf[s->ioff + 1] << 16 |
		    (uint32_t)s->ibuf[s->ioff + 2] << 8 | s->ibuf[s->ioff + 3];
		need = 4 + (size_t)len;
	}
	if (s->ioff > 0 && (s->ioff + need > s->icap ||
	    s->icap - s->ilen < SFTP_IBUF_LEN)) {
		memmove(s->ibuf, s->ibuf + s->ioff, have);
		s->ilen = have;
		s->ioff = 0;
	}
	n = recv(s->rfd, s->ibuf + s->ilen, s->icap - s->ilen, MSG_DONTWAIT);
	if (n == -1 && errno == ENOTSOCK) {
		/* A pipe: one read(2) cannot block once poll says so. */
		pfd.fd = s->rfd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, 0) != 1) {
			return 0;
		}
		n = read(s->rfd, s->ibuf + s->ilen, s->icap - s->ilen);
	}
	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
			return 0;
		}
		r = read_failed(SCP_E_SYS);
		s->dead = 1;
		return r;
	}
	if (n == 0) {
		log_error("Connection closed");
		s->dead = 1;
		return SCP_E_CLOSED;
	}
	s->ilen += (size_t)n;
	return sftp_msg_buffered(s);
}

int
sftp_reply_ready(struct sftp_session *s, const void *owner, uint32_t *id,
    uint8_t *type, struct buf **body)
{
	return reply_for(s, owner, 0, id, type, body);
}

int
sftp_reply_any_ready(struct sftp_session *s, const void **owner,
    uint32_t *id, uint8_t *type, struct buf **body)
{
	size_t got = 0, have;
	ssize_t i;
	int r;

	*body = NULL;
	while ((i = oldest_reply(s, NULL, 1, &have)) < 0) {
		if (have == 0 || !sftp_msg_buffered(s)) {
			return 0;
		}
		if ((r = reply_receive(s, &got)) < 0) {
			return r;
		}
	}
	*owner = s->reqs[i].owner;
	reply_take(s, (size_t)i, id, type, body);
	return 0;
}
