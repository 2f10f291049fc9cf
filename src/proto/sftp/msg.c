/*
 * SFTP framing, the read side: a message is u32 length || type || body
 * (PROTOCOL.md section 4; draft-ietf-secsh-filexfer-02 section 3).
 * Lengths are checked before anything is allocated; a session reads
 * through its read-ahead (many small replies cost one read(2)), and an
 * engine polling several sessions reads without blocking.  Requests go
 * out through send.c, replies are filed by reply.c.
 */
#include "wire.h"
#include "wire_int.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../../transport/io.h"
#include "../../util/buf.h"
#include "../../util/err.h"
#include "../../util/log.h"
#include "../../util/xmalloc.h"

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

int
sftp_sess_msg_read(struct sftp_session *s, struct buf **out)
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
