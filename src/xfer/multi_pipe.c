/*
 * The per-session pipelines of a split file (multi.c): each session
 * keeps its READs or WRITEs in flight over the chunks the scheduler
 * (multi_sched.c) gives it, WRITEs are sent without blocking from a
 * per-session header and block, the replies are taken as they arrive
 * whole (a DATA reply is pwrite()n into the local file here), and one
 * poll() loop drives every session until the copy is done or stopped.
 * A session that breaks is marked dead and its requests forgotten; the
 * others stop sending.
 */
#include "multi_int.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <string.h>
#include <unistd.h>

#include "../fs/outfile.h"
#include "../transport/io.h"
#include "../util/buf.h"
#include "../util/err.h"
#include "../util/log.h"
#include "../util/xmalloc.h"

/*
 * Bytes one session keeps in flight (asked or sent, not yet answered),
 * both ways: three quarters of ssh's channel window (2 MiB, PROTOCOL.md
 * section 7).  Not more: the ssh that sends reads its channel's descriptor
 * whenever the window has room, 32 KiB at a time, into a buffer it
 * regrows (a copy of all of it) on every read; with several channels
 * its output to the network is often full, so that buffer grew to the
 * window and the sending ssh spent most of its time copying (perf: 80%
 * in memmove and page faults; user CPU 1.5-2.5 s instead of 0.5 s for
 * 256 MiB over 8 channels).  More channels make up for the smaller
 * share of the window (run_sftp.c).  Also few enough bytes asked and
 * not yet answered that chunks go to whichever session runs dry.
 */
#define MULTI_INFLIGHT		(1536U * 1024)

/* Registers request `id` of m->p[i] for [off, off+len). */
static void
multi_track(struct mpeer *p, uint32_t id, uint64_t off, uint32_t len)
{
	if (p->nq == p->aq) {
		p->aq = p->aq ? p->aq * 2 : 64;
		p->q = xreallocarray(p->q, p->aq, sizeof(*p->q));
	}
	p->q[p->nq].id = id;
	p->q[p->nq].off = off;
	p->q[p->nq].len = len;
	p->nq++;
	p->inflight += len;
}

static int
multi_send_read(struct mpeer *p, uint64_t off, uint32_t len)
{
	struct sftp_session *s = p->s;
	uint32_t id;
	int r;

	if ((r = sftp_send_read(s, p, &p->h, off, len, &id)) != 0) {
		return r;
	}
	multi_track(p, id, off, len);
	return 0;
}

/* Whether a WRITE of `p` is partly sent. */
static int
multi_pending(const struct mpeer *p)
{
	return p->hoff < p->hlen || p->doff < p->dlen;
}

/*
 * Sends what the socket takes of p's WRITE, without blocking.  Not a
 * socket (-D with pipes): the rest is written blocking.
 */
static int
multi_push(struct mpeer *p)
{
	struct msghdr mh;
	struct iovec iov[2];
	ssize_t n;
	size_t k;

	while (multi_pending(p)) {
		if (p->blocking) {
			if (io_write_full(p->s->wfd, p->hdr + p->hoff,
			    p->hlen - p->hoff) != 0 ||
			    io_write_full(p->s->wfd, p->blk + p->doff,
			    p->dlen - p->doff) != 0) {
				break;
			}
			p->hoff = p->hlen;
			p->doff = p->dlen;
			return 0;
		}
		memset(&mh, 0, sizeof(mh));
		k = 0;
		if (p->hoff < p->hlen) {
			iov[k].iov_base = p->hdr + p->hoff;
			iov[k++].iov_len = p->hlen - p->hoff;
		}
		if (p->doff < p->dlen) {
			iov[k].iov_base = p->blk + p->doff;
			iov[k++].iov_len = p->dlen - p->doff;
		}
		mh.msg_iov = iov;
		mh.msg_iovlen = k;
		n = sendmsg(p->s->wfd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR) {
				return 0;
			}
			if (errno == ENOTSOCK) {
				p->blocking = 1;
				continue;
			}
			break;
		}
		k = (size_t)n;
		if (p->hoff < p->hlen) {
			if (k < p->hlen - p->hoff) {
				p->hoff += k;
				continue;
			}
			k -= p->hlen - p->hoff;
			p->hoff = p->hlen;
		}
		p->doff += k;
	}
	if (!multi_pending(p)) {
		return 0;
	}
	if (errno == EINTR && io_cancelled()) {
		p->s->dead = 1;
		return SCP_E_INTR;
	}
	return sftp_fail(p->s, SCP_E_CLOSED, "Couldn't send packet: %s",
	    strerror(errno));
}

/* Uploads: reads [off, off+len) of the source and starts sending it.
 * 1 when the local read failed (m->local_err set). */
static int
multi_send_write(struct multi *m, struct mpeer *p, uint64_t off,
    uint32_t len)
{
	struct sftp_session *s = p->s;
	size_t hl;
	ssize_t n;
	uint32_t id;
	int r;

	if (p->blk == NULL) {
		p->blk = xmalloc(SFTP_MAX_BLOCK);
	}
	n = pread(m->fd, p->blk, len, (off_t)off);
	if (n != (ssize_t)len) {
		/* Short: the file shrank while we read it. */
		m->local_err = n < 0 ? errno : 0;
		return 1;
	}
	/* Anything batched goes first (nothing is, in practice). */
	if ((r = sftp_flush(s)) != 0 ||
	    (r = sftp_req_begin(s, SSH2_FXP_WRITE, p, &id)) != 0) {
		return r;
	}
	if ((r = buf_put_string(s->wbuf, p->h.h, p->h.len)) != 0 ||
	    (r = buf_put_u64(s->wbuf, off)) != 0 ||
	    (r = buf_put_u32(s->wbuf, len)) != 0 ||
	    (r = buf_poke_u32(s->wbuf, 0,
	    (uint32_t)(buf_len(s->wbuf) - 4 + len))) != 0) {
		return sftp_fail(s, r, "compose write: %s", scp_strerror(r));
	}
	hl = buf_len(s->wbuf);
	if (hl > sizeof(p->hdr)) {
		return sftp_fail(s, SCP_E_TOOBIG, "request too long");
	}
	memcpy(p->hdr, buf_ptr(s->wbuf), hl);
	p->hlen = hl;
	p->hoff = 0;
	p->dlen = len;
	p->doff = 0;
	multi_track(p, id, off, len);
	return multi_push(p);
}

/*
 * Keeps session `p` busy, taking a new chunk when its own runs out:
 * downloads keep up to MULTI_INFLIGHT bytes of READs (and at most
 * s->nreq requests: the deadlock rule above SFTP_MAX_NREQ) in flight;
 * uploads send WRITEs while the socket takes them whole.
 */
static int
multi_fill(struct multi *m, struct mpeer *p)
{
	struct sftp_session *s = p->s;
	uint64_t left;
	uint32_t blk, len;
	int r;

	if (!p->open) {
		return 0;
	}
	if (m->upload && (r = multi_push(p)) != 0) {
		return r;
	}
	blk = m->upload ? s->write_len : s->read_len;
	while (!m->failed && !io_cancelled() && p->nq < s->nreq &&
	    p->inflight + blk <= MULTI_INFLIGHT &&
	    (!m->upload || !multi_pending(p))) {
		if (p->cur == p->end && !multi_take_chunk(m, p)) {
			break;
		}
		left = p->end - p->cur;
		len = left < blk ? (uint32_t)left : blk;
		if (m->upload) {
			if ((r = multi_send_write(m, p, p->cur, len)) != 0) {
				if (r > 0) {
					m->failed = 1;
					return 0;
				}
				return r;
			}
		} else if ((r = multi_send_read(p, p->cur, len)) != 0) {
			return r;
		}
		p->cur += len;
	}
	return 0;
}

/* Records the first error STATUS and stops sending. */
void
multi_status(struct multi *m, uint32_t code)
{
	if (m->status == 0) {
		m->status = code;
	}
	m->failed = 1;
}

/*
 * Handles one reply `b` (request `id`, reply `type`) of session `p`:
 * its OPEN while joining, or a READ's or WRITE's.
 */
static int
multi_reply(struct multi *m, struct mpeer *p, uint32_t id, uint8_t type,
    struct buf *b)
{
	struct sftp_session *s = p->s;
	const uint8_t *data;
	struct mreq rq;
	uint32_t code;
	size_t i, dlen;
	int r;

	if (p->joining && id == p->open_id) {
		return multi_joined(p, type, b);
	}
	for (i = 0; i < p->nq && p->q[i].id != id; i++) {
		;
	}
	if (i == p->nq) {
		buf_free(b);
		return sftp_fail(s, SCP_E_FORMAT, "Unexpected reply %u", id);
	}
	rq = p->q[i];
	p->q[i] = p->q[--p->nq];
	p->inflight -= rq.len;
	if (type == SSH2_FXP_STATUS) {
		r = sftp_parse_status(b, &code, NULL);
		buf_free(b);
		if (r != 0) {
			return sftp_fail(s, SCP_E_FORMAT,
			    "Malformed STATUS reply");
		}
		if (m->upload && code == SSH2_FX_OK) {
			m->done += rq.len;
			return 0;
		}
		if (rq.off < m->hole) {
			m->hole = rq.off;
		}
		if (!m->upload && code == SSH2_FX_EOF) {
			/* Shorter than STAT said: checked at the end. */
			if (rq.off < m->eof_at) {
				m->eof_at = rq.off;
			}
			m->failed = 1;
		} else {
			multi_status(m, code);
		}
		return 0;
	}
	if (m->upload) {
		buf_free(b);
		return sftp_fail(s, SCP_E_FORMAT,
		    "Malformed reply to SSH2_FXP_WRITE");
	}
	if (buf_get_string_direct(b, &data, &dlen) != 0 || buf_len(b) != 0 ||
	    dlen > rq.len || dlen == 0) {
		buf_free(b);
		return sftp_fail(s, SCP_E_FORMAT, "Malformed DATA reply");
	}
	if (m->local_err == 0 &&
	    outfile_pwrite(m->of, data, dlen, rq.off) != 0) {
		m->local_err = errno != 0 ? errno : EIO;
		m->failed = 1;
	}
	buf_free(b);
	m->done += dlen;
	if (dlen < rq.len && !m->failed) {
		/* Short DATA: ask for the rest of that block. */
		return multi_send_read(p, rq.off + dlen,
		    rq.len - (uint32_t)dlen);
	}
	if (dlen < rq.len && rq.off + dlen < m->hole) {
		/* Not asked again: the whole prefix ends here. */
		m->hole = rq.off + dlen;
	} else if (m->local_err != 0 && rq.off < m->hole) {
		m->hole = rq.off;
	}
	return 0;
}

/* Takes every reply of `p` that has arrived whole, never blocking. */
static int
multi_collect(struct multi *m, struct mpeer *p)
{
	struct buf *b;
	uint32_t id;
	uint8_t type;
	int r;

	if ((r = sftp_read_ready(p->s)) < 0) {
		return r;
	}
	while ((p->nq > 0 || p->joining) && !io_cancelled()) {
		if ((r = sftp_reply_ready(p->s, p, &id, &type, &b)) != 0) {
			return r;
		}
		if (b == NULL) {
			break;
		}
		if ((r = multi_reply(m, p, id, type, b)) != 0) {
			return r;
		}
	}
	return 0;
}

/* A session broke: its requests are forgotten, the copy stops. */
static void
multi_broken(struct multi *m, struct mpeer *p, int r)
{
	p->dead = 1;
	p->open = 0;
	p->joining = 0;
	p->nq = 0;
	p->hoff = p->hlen = p->doff = p->dlen = 0;
	sftp_req_forget(p->s, p);
	m->failed = 1;
	if (p == &m->p[0]) {
		if (m->fatal == 0) {
			m->fatal = r;
		}
	} else if (m->peer_fatal == 0) {
		m->peer_fatal = r;
	}
}

/*
 * Runs the transfer until every byte is done or, after a failure, every
 * request still in flight is answered (and every session that was
 * joining has its OPEN answered).  Only an interruption returns early
 * (SCP_E_INTR), every request forgotten.  One poll() over all sessions;
 * every read and write is non-blocking, so one channel whose window is
 * shut never holds up the others.
 */
int
multi_run(struct multi *m)
{
	struct pollfd pfd[MULTI_MAX];
	struct mpeer *p;
	size_t i, pending;
	int r, timeout;

	for (;;) {
		if (io_cancelled()) {
			break;
		}
		pending = 0;
		timeout = multi_more(m);
		for (i = 0; i < m->n; i++) {
			p = &m->p[i];
			pfd[i].fd = -1;
			pfd[i].events = 0;
			pfd[i].revents = 0;
			if (p->dead) {
				continue;
			}
			if ((r = multi_fill(m, p)) != 0 ||
			    (!multi_pending(p) &&
			    (r = sftp_flush(p->s)) != 0)) {
				multi_broken(m, p, r);
				continue;
			}
			pending += p->nq + (size_t)p->joining;
			if (p->nq > 0 || p->joining) {
				pfd[i].fd = p->s->rfd;
				pfd[i].events = POLLIN;
				if (sftp_msg_buffered(p->s)) {
					timeout = 0;
				}
			}
			if (multi_pending(p)) {
				if (p->s->wfd != p->s->rfd &&
				    pfd[i].events != 0) {
					/* One pollfd per session: the write
					 * waits for the next round. */
					timeout = 0;
				} else {
					pfd[i].fd = p->s->wfd;
					pfd[i].events |= POLLOUT;
				}
			}
		}
		if (pending == 0 && (m->failed || m->next >= m->size)) {
			break;
		}
		if (poll(pfd, m->n, timeout) == -1) {
			if (errno == EINTR || errno == EAGAIN) {
				continue;
			}
			log_error("poll: %s", strerror(errno));
			m->failed = 1;
			break;
		}
		for (i = 0; i < m->n; i++) {
			p = &m->p[i];
			if (p->dead || (!(pfd[i].revents &
			    (POLLIN | POLLERR | POLLHUP)) &&
			    !sftp_msg_buffered(p->s))) {
				continue;
			}
			if ((r = multi_collect(m, p)) != 0) {
				multi_broken(m, p, r);
			}
		}
		sftp_meter_update(m->p[0].s, m->done);
	}
	if (io_cancelled()) {
		for (i = 0; i < m->n; i++) {
			sftp_req_forget(m->p[i].s, &m->p[i]);
			m->p[i].joining = 0;
			/* A WRITE cut in the middle would garble whatever
			 * the session sends next. */
			if (multi_pending(&m->p[i])) {
				m->p[i].s->dead = 1;
			}
		}
		return SCP_E_INTR;
	}
	return 0;
}
