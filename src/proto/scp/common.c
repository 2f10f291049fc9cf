/*
 * Pieces both directions of the legacy protocol use: error reporting to
 * the peer (run_err), replies (response), traces.  PROTOCOL.md section 2.
 */
#include "scp_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../../transport/io.h"
#include "../../util/err.h"
#include "../../util/log.h"
#include "../../util/sanitize.h"

void
scp_conn_init(struct scp_conn *c, int rfd, int wfd,
    const struct scp_opts *o)
{
	memset(c, 0, sizeof(*c));
	c->rfd = rfd;
	c->wfd = wfd;
	c->o = o;
	bwlimit_init(&c->bw, o->bwlimit_kbits, SCP_BW_BUFLEN);
}

void
scp_trace(const char *fmt, ...)
{
	char raw[SCP_LINE_MAX + 128], safe[4 * sizeof(raw) + 2];
	size_t n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	n = strlen(raw);
	if (n > 0 && raw[n - 1] == '\n') {
		raw[--n] = '\0';
	}
	n = sanitize_buf(safe, sizeof(safe) - 1, raw, n);
	if (n > sizeof(safe) - 2) {
		n = sizeof(safe) - 2;
	}
	safe[n++] = '\n';
	fflush(stdout);
	if (write(STDERR_FILENO, safe, n) == -1) {
		return;
	}
}

int
scp_send(struct scp_conn *c, const void *p, size_t n)
{
	if (c->broken || c->wfd < 0) {
		return SCP_E_CLOSED;
	}
	if (io_write_full(c->wfd, p, n) != 0) {
		c->broken = 1;
		return SCP_E_CLOSED;
	}
	return 0;
}

/*
 * A record or reply arrives in one write, and the peer sends nothing
 * more until we answer it: one read here takes the whole line where a
 * read per byte (OpenSSH's way) costs a system call per byte.
 */
int
scp_recv_byte(struct scp_conn *c, unsigned char *ch)
{
	/* One refill path: what follows the byte lands in the read-ahead. */
	return (int)scp_recv_some(c, ch, 1, 1);
}

ssize_t
scp_recv_some(struct scp_conn *c, void *p, size_t n, int ahead)
{
	struct iovec v[2];
	size_t have = c->rlen - c->roff;
	ssize_t r;

	if (n == 0) {
		return 0;
	}
	if (have == 0 && !ahead) {
		return io_read_some(c->rfd, p, n);
	}
	if (have == 0) {
		/* What follows the data lands in the read-ahead. */
		v[0].iov_base = p;
		v[0].iov_len = n;
		v[1].iov_base = c->rbuf;
		v[1].iov_len = sizeof(c->rbuf);
		if ((r = io_readv_some(c->rfd, v, 2)) <= 0) {
			return r;
		}
		c->roff = 0;
		c->rlen = (size_t)r > n ? (size_t)r - n : 0;
		return r > (ssize_t)n ? (ssize_t)n : r;
	}
	if (have > n) {
		have = n;
	}
	memcpy(p, c->rbuf + c->roff, have);
	c->roff += have;
	return (ssize_t)have;
}

ssize_t
scp_recv_full(struct scp_conn *c, void *p, size_t n, int ahead)
{
	unsigned char *d = p;
	size_t done = 0;
	ssize_t r;

	while (done < n) {
		if ((r = scp_recv_some(c, d + done, n - done, ahead)) < 0) {
			return -1;
		}
		if (r == 0) {
			break;
		}
		done += (size_t)r;
	}
	return (ssize_t)done;
}

int
scp_ack(struct scp_conn *c)
{
	return scp_send(c, "", 1);
}

void
scp_run_err(struct scp_conn *c, const char *fmt, ...)
{
	char msg[SCP_LINE_MAX], wire[SCP_LINE_MAX];
	size_t i, n;
	va_list ap;

	c->errs++;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!c->broken && c->wfd >= 0) {
		/*
		 * The peer reads the message as one line of at most
		 * SCP_LINE_MAX bytes: cut it to fit and keep newlines (a
		 * file name may hold one) from ending it early.
		 */
		n = (size_t)snprintf(wire, sizeof(wire) - 1, "\001scp: %s",
		    msg);
		if (n > sizeof(wire) - 2) {
			n = sizeof(wire) - 2;
		}
		for (i = 1; i < n; i++) {
			if (wire[i] == '\n') {
				wire[i] = ' ';
			}
		}
		wire[n++] = '\n';
		if (io_write_full(c->wfd, wire, n) != 0) {
			c->broken = 1;
		}
	}
	if (!c->o->remote) {
		log_plain("%s", msg);
	}
}

int
scp_response(struct scp_conn *c, int *warned)
{
	char msg[SCP_LINE_MAX];
	unsigned char ch, b;
	size_t n = 0;
	int saved;

	*warned = 0;
	if (c->broken || scp_recv_byte(c, &ch) != 1) {
		goto lost;
	}
	if (ch == 0) {
		return 0;
	}
	if (ch != 1 && ch != 2) {
		msg[n++] = (char)ch;
	}
	/* A message runs to the newline or to the line limit. */
	while (n < sizeof(msg) - 1) {
		if (scp_recv_byte(c, &b) != 1) {
			goto lost;
		}
		msg[n] = (char)b;
		if (msg[n] == '\n') {
			break;
		}
		n++;
	}
	msg[n] = '\0';
	c->errs++;
	if (!c->o->remote) {
		log_plain("%s", msg);
	}
	if (ch == 1) {
		*warned = 1;
		return 0;
	}
	c->broken = 1;
	return ch == 2 ? SCP_E_PEER : SCP_E_FORMAT;
lost:
	/* A --timeout is not the peer hanging up: say which it was. */
	saved = errno;
	if (!c->o->remote) {
		if (!c->broken && saved == ETIMEDOUT) {
			log_plain("lost connection: %s", strerror(saved));
		} else {
			log_plain("lost connection");
		}
	}
	c->broken = 1;
	return SCP_E_CLOSED;
}

size_t
scp_blocksize(int fd)
{
	struct stat st;
	size_t b = SCP_BLOCK;

	if (fstat(fd, &st) == 0 && st.st_blksize > 0 &&
	    (size_t)st.st_blksize <= SCP_BLOCK_MAX) {
		b = ((size_t)st.st_blksize + SCP_BLOCK - 1) / SCP_BLOCK *
		    SCP_BLOCK;
	}
	return b;
}
