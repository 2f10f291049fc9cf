/*
 * One big regular file over several SFTP sessions to the same server
 * ("several channels, one authentication", docs/design-speed.md).
 *
 * One SFTP session over ssh is capped at one channel window (2 MiB) per
 * round trip (PROTOCOL.md section 7), so on a long link the file is cut
 * into chunks handed out to the sessions as they run dry (a slow session
 * never holds up the end), each session keeping its usual pipeline of
 * requests in flight.  One thread drives them all with poll().
 *
 * Uploads: the first session opens the temporary name as a single-session
 * upload does (sftp_rfile_open), the others open that same name
 * WRITE-only, and once every byte is acknowledged and their handles are
 * closed the first session finishes (attributes, CLOSE, rename).
 * Downloads: every session OPENs the remote file and READs its ranges;
 * the data is pwrite()n into the local temporary file, renamed into place
 * only when every range arrived whole.
 *
 * Any failure discards the temporary file (a partial with holes in the
 * middle is useless to --resume, which only checks its last block),
 * except on an interruption or a lost connection: then it is cut to the
 * prefix that is known whole and kept, as a single-session copy keeps
 * its partial.
 */
#include "sftp_int.h"

#include <errno.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../fs/outfile.h"
#include "../../transport/io.h"
#include "../../util/buf.h"
#include "../../util/err.h"
#include "../../util/log.h"
#include "../../util/xmalloc.h"

/* Sessions one file may use (the first included). */
#define MULTI_MAX		16
/* Smaller files are never split: opening handles costs round trips. */
#define MULTI_FLOOR		(8ULL * 1024 * 1024)
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

/*
 * Chunks: what is left divided by twice the sessions, within these
 * bounds, so the chunks shrink towards the end and the sessions finish
 * together (a 32 MiB chunk at 40 MB/s would leave one session alone
 * for most of a second).
 */
#define MULTI_CHUNK_MIN		(1ULL * 1024 * 1024)
#define MULTI_CHUNK_MAX		(32ULL * 1024 * 1024)
/* Room for a WRITE's header: length, type, id, handle, offset, length. */
#define MULTI_HDR_MAX		(4 + 1 + 4 + 4 + SFTP_MAX_HANDLE + 8 + 4)

/* A READ or WRITE in flight. */
struct mreq {
	uint32_t id;
	uint64_t off;
	uint32_t len;
};

struct mpeer {
	struct sftp_session *s;
	struct sftp_handle h;
	int open;		/* h is valid */
	int joining;		/* its OPEN (open_id) is in flight */
	uint32_t open_id;
	int closing;		/* its CLOSE (close_id) is in flight */
	uint32_t close_id;
	int dead;		/* the session broke during this file */
	uint64_t cur, end;	/* the part of its chunk not yet asked */
	uint64_t inflight;	/* bytes asked and not yet answered */
	struct mreq *q;		/* outstanding requests */
	size_t nq, aq;
	/*
	 * Uploads: the WRITE being sent without blocking, hdr[hoff..hlen)
	 * then blk[doff..dlen); a full socket leaves the rest for when
	 * poll says it has room, so one channel whose window is shut never
	 * stalls the others.
	 */
	uint8_t hdr[MULTI_HDR_MAX];
	size_t hlen, hoff;
	uint8_t *blk;
	size_t dlen, doff;
	int blocking;		/* not a socket: plain blocking writes */
};

struct multi {
	struct mpeer p[MULTI_MAX];
	size_t n;
	int upload;
	int fd;			/* uploads: the local source */
	struct outfile *of;	/* downloads: the local target */
	uint64_t size, next, done;
	int failed;		/* stop sending: an error or a stop */
	int fatal;		/* first session's fatal code, or 0 */
	int peer_fatal;		/* another session's fatal code, or 0 */
	uint32_t status;	/* first error STATUS, 0 if none */
	int local_err;		/* errno of a local read/write failure */
	uint64_t eof_at;	/* downloads: lowest EOF seen */
	uint64_t hole;		/* lowest offset failed or not asked again */
	int wanted;		/* the provider gave a session (maybe only
				 * s itself: none ready yet) */
	const char *path;	/* what joining sessions OPEN, and how */
	uint32_t pflags;
	struct timespec asked;	/* the provider was last asked then */
	const char *rpath;	/* uploads: the target, for close errors */
};

int
sftp_multi_possible(const struct sftp_session *s, uint64_t size)
{
	const struct sftp_opts *o = s->o;

	/* --resume verifies one prefix and --inplace has no temporary
	 * file; -l is a per-session limit and would be multiplied. */
	return s->peers != NULL && !s->dead && size >= MULTI_FLOOR &&
	    !o->resume && !o->inplace && o->bwlimit_kbits == 0;
}

/* Adds session `x` (from the provider) unless it is there already or
 * unusable.  1 if added. */
static int
multi_adopt(struct multi *m, struct sftp_session *x)
{
	struct sftp_session *s = m->p[0].s;
	size_t i;

	/* A session that broke on an earlier file stays broken. */
	if (x == NULL || x->dead || m->n >= MULTI_MAX) {
		return 0;
	}
	for (i = 0; i < m->n; i++) {
		if (m->p[i].s == x) {
			return 0;
		}
	}
	/*
	 * Same server, same sftp-server: the first session's limits hold
	 * for all, and a session opened moments ago need not wait for its
	 * own limits reply before it joins.
	 */
	x->read_len = s->read_len;
	x->write_len = s->write_len;
	x->nreq = s->nreq;
	memset(&m->p[m->n], 0, sizeof(m->p[m->n]));
	m->p[m->n++].s = x;
	return 1;
}

/* Asks the provider for extra sessions; fills m->p[1..], sets m->n. */
static void
multi_peers(struct multi *m, struct sftp_session *s, uint64_t size)
{
	struct sftp_session *extra[MULTI_MAX - 1];
	size_t n, i;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	m->p[0].s = s;
	m->n = 1;
	(void)clock_gettime(CLOCK_MONOTONIC, &m->asked);
	n = s->peers(s->peers_ctx, s, size, s->rtt_us, extra, MULTI_MAX - 1);
	/* Only `s` itself: split, the others join when ready. */
	m->wanted = n > 0;
	for (i = 0; i < n && i < MULTI_MAX - 1; i++) {
		(void)multi_adopt(m, extra[i]);
	}
}

/* Sends OPEN of m->path on `p` without waiting: it joins the transfer
 * when its HANDLE arrives (multi_reply). */
static void
multi_join_one(struct multi *m, struct mpeer *p)
{
	int r;

	sftp_req_owner(p->s, p);
	r = sftp_send_open(p->s, m->path, m->pflags, NULL, &p->open_id);
	sftp_req_owner(p->s, NULL);
	if (r != 0) {
		log_debug("multi: a session broke: %s", scp_strerror(r));
		p->dead = 1;
		return;
	}
	p->joining = 1;
}

/*
 * Sends OPEN of `path` on m->p[1..n) without waiting: each session
 * joins the transfer when its HANDLE arrives, so the first one starts
 * at once.
 */
static void
multi_join(struct multi *m, const char *path, uint32_t pflags)
{
	size_t i;

	m->path = path;
	m->pflags = pflags;
	for (i = 1; i < m->n; i++) {
		multi_join_one(m, &m->p[i]);
	}
}

/* Milliseconds between two asks of the provider while data is left. */
#define MULTI_ASK_MS		10

/*
 * Asks the provider again: sessions still opening when the file
 * started (the cli opens them in the background) join as they become
 * ready.  Returns the poll timeout until the next ask, or -1.
 */
static int
multi_more(struct multi *m)
{
	struct sftp_session *s = m->p[0].s;
	struct sftp_session *extra[MULTI_MAX - 1];
	struct timespec now;
	int64_t ms;
	size_t n, i;

	if (m->failed || m->next >= m->size || m->n >= MULTI_MAX ||
	    s->peers == NULL) {
		return -1;
	}
	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	ms = ((int64_t)now.tv_sec - (int64_t)m->asked.tv_sec) * 1000 +
	    ((int64_t)now.tv_nsec - (int64_t)m->asked.tv_nsec) / 1000000;
	if (ms >= 0 && ms < MULTI_ASK_MS) {
		return (int)(MULTI_ASK_MS - ms);
	}
	m->asked = now;
	n = s->peers(s->peers_ctx, s, m->size, s->rtt_us, extra,
	    MULTI_MAX - 1);
	for (i = 0; i < n && i < MULTI_MAX - 1; i++) {
		if (multi_adopt(m, extra[i])) {
			log_debug("multi: session %zu joins", m->n - 1);
			multi_join_one(m, &m->p[m->n - 1]);
		}
	}
	return MULTI_ASK_MS;
}

/* Takes the OPEN reply of joining session `p`.  A refusal leaves it
 * out of this file (a read-only temporary file); fatal breaks it. */
static int
multi_joined(struct mpeer *p, uint8_t type, struct buf *b)
{
	int r;

	p->joining = 0;
	r = sftp_take_handle(p->s, type, b, &p->h);
	if (r == 0) {
		p->open = 1;
		return 0;
	}
	if (r == SCP_E_PEER) {
		log_debug("multi: a session could not open the file (%s)",
		    sftp_fx2txt(p->s->last_status));
		p->dead = 1;
		return 0;
	}
	return r;
}

/* Waits for the OPEN replies still in flight, closing what opened
 * (the copy ended or never started). */
static void
multi_unjoin(struct multi *m)
{
	struct mpeer *p;
	struct buf *b;
	uint8_t type;
	size_t i;

	for (i = 1; i < m->n; i++) {
		p = &m->p[i];
		if (!p->joining) {
			continue;
		}
		if (p->s->dead || sftp_reply_wait(p->s, p->open_id, &type,
		    &b) != 0) {
			p->joining = 0;
			p->dead = 1;
			continue;
		}
		(void)multi_joined(p, type, b);
	}
}

/*
 * Sends CLOSE on every open handle of m->p[from..n) and writes them out
 * at once (a long link holds small requests for a batch: unflushed,
 * each would leave only when its own reply is waited for, one round
 * trip per session in turn).  multi_close_wait() takes the replies.
 */
static void
multi_close_send(struct multi *m, size_t from)
{
	size_t i;

	multi_unjoin(m);
	for (i = from; i < m->n; i++) {
		m->p[i].closing = m->p[i].open && !m->p[i].s->dead &&
		    sftp_send_close(m->p[i].s, &m->p[i].h,
		    &m->p[i].close_id) == 0;
		m->p[i].open = 0;
	}
	for (i = from; i < m->n; i++) {
		if (m->p[i].closing) {
			/* A failure marks the session dead: the wait says so. */
			(void)sftp_flush(m->p[i].s);
		}
	}
}

/* The replies to multi_close_send(): 1 if a server refused a CLOSE
 * (data may be lost), 0, or the first session's fatal. */
static int
multi_close_wait(struct multi *m, size_t from, const char *path)
{
	size_t i;
	int r, rc = 0;

	for (i = from; i < m->n; i++) {
		if (!m->p[i].closing) {
			continue;
		}
		m->p[i].closing = 0;
		r = sftp_recv_status(m->p[i].s, m->p[i].close_id);
		if (r == SCP_E_PEER) {
			if (rc == 0) {
				log_error("close remote \"%s\": %s", path,
				    sftp_fx2txt(m->p[i].s->last_status));
			}
			rc = 1;
		} else if (r < 0 && i == 0) {
			return r;
		}
	}
	return rc;
}

/* CLOSE on every open handle of m->p[from..n), all in flight at once. */
static int
multi_close(struct multi *m, size_t from, const char *path)
{
	multi_close_send(m, from);
	return multi_close_wait(m, from, path);
}

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
	uint64_t left, c;
	uint32_t blk, len;
	size_t live, i;
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
		if (p->cur == p->end) {
			if (m->next >= m->size) {
				break;
			}
			/* Shrinking chunks (see MULTI_CHUNK_MIN). */
			for (live = 0, i = 0; i < m->n; i++) {
				live += !m->p[i].dead;
			}
			left = m->size - m->next;
			c = left / (2 * (live > 0 ? live : 1));
			c = c < MULTI_CHUNK_MIN ? MULTI_CHUNK_MIN : c;
			c = c > MULTI_CHUNK_MAX ? MULTI_CHUNK_MAX : c;
			p->cur = m->next;
			p->end = p->cur + (left < c ? left : c);
			m->next = p->end;
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
static void
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
static int
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

/* Bytes from offset 0 known to be written whole. */
static uint64_t
multi_contig(const struct multi *m)
{
	const struct mpeer *p;
	uint64_t c = m->next < m->hole ? m->next : m->hole;
	size_t i, j;

	for (i = 0; i < m->n; i++) {
		p = &m->p[i];
		if (p->cur < p->end && p->cur < c) {
			c = p->cur;
		}
		for (j = 0; j < p->nq; j++) {
			if (p->q[j].off < c) {
				c = p->q[j].off;
			}
		}
	}
	return c;
}

static void
multi_free(struct multi *m)
{
	size_t i;

	for (i = 0; i < m->n; i++) {
		/* Left by a broken session: no reply is collected now. */
		if (m->p[i].nq > 0 || m->p[i].joining) {
			sftp_req_forget(m->p[i].s, &m->p[i]);
		}
		free(m->p[i].q);
		m->p[i].q = NULL;
		free(m->p[i].blk);
		m->p[i].blk = NULL;
	}
}

static void
multi_plan(struct multi *m, uint64_t size)
{
	m->size = size;
	m->eof_at = UINT64_MAX;
	m->hole = UINT64_MAX;
	log_debug("multi: %llu bytes over %zu sessions",
	    (unsigned long long)size, m->n);
}

/* rf.closed_cb of an upload: the other sessions' CLOSE replies, 0 or 1
 * (from 1, multi_close_wait() has no fatal to return). */
static int
multi_upload_closed(void *ctx)
{
	struct multi *m = ctx;

	return multi_close_wait(m, 1, m->rpath);
}

int
sftp_multi_upload(struct sftp_session *s, int fd, const char *lpath,
    const char *rpath, const struct sftp_attr *a, int fresh)
{
	struct multi m;
	struct sftp_rfile rf;
	struct sftp_attr cut;
	uint64_t size = a->size;
	int r, ok;

	if (!sftp_multi_possible(s, size)) {
		return SFTP_MULTI_DECLINED;
	}
	multi_peers(&m, s, size);
	if (!m.wanted) {
		return SFTP_MULTI_DECLINED;
	}
	if ((r = sftp_rfile_open(&rf, s, rpath, a, fresh)) != 0) {
		close(fd);
		return r == SCP_E_PEER ? 1 : r;
	}
	m.p[0].h = rf.h;
	m.p[0].open = 1;
	/* After the first OPEN created (and truncated) it, no CREAT. */
	multi_join(&m, rf.tmppath != NULL ? rf.tmppath : rf.path,
	    SSH2_FXF_WRITE);
	m.upload = 1;
	m.fd = fd;
	multi_plan(&m, size);
	sftp_meter_start(s, lpath, size);
	/* Even if no other session could open it, the first goes on. */
	r = multi_run(&m);
	sftp_meter_end(s);
	ok = r == 0 && !m.failed && m.fatal == 0 && m.done == size;
	if (r == 0 && m.local_err != 0) {
		log_error("read local \"%s\": %s", lpath,
		    strerror(m.local_err));
	} else if (r == 0 && m.failed && m.status == 0 && m.fatal == 0 &&
	    m.peer_fatal == 0 && m.done != size) {
		log_error("read local \"%s\": file changed size while being "
		    "read", lpath);
	} else if (r == 0 && m.status != 0) {
		log_error("write remote \"%s\": %s", rpath,
		    sftp_fx2txt(m.status));
	}
	/*
	 * The other handles are closed before the rename, in the round trip
	 * of the first session's CLOSE (multi_upload_closed).
	 */
	if (r == 0 && m.fatal == 0) {
		multi_close_send(&m, 1);
		m.rpath = rpath;
		rf.closed_cb = multi_upload_closed;
		rf.closed_ctx = &m;
	}
	if (!ok && io_cancelled() && rf.tmppath != NULL && !s->dead) {
		/* Kept for --resume: only the whole prefix. */
		memset(&cut, 0, sizeof(cut));
		cut.flags = SSH2_FILEXFER_ATTR_SIZE;
		cut.size = multi_contig(&m);
		(void)sftp_do_fsetstat(s, &rf.h, &cut);
	}
	if (m.fatal != 0) {
		s->dead = 1;
	}
	r = sftp_rfile_finish(&rf, ok, size);
	if (rf.closed_cb != NULL) {
		/* Not reached there (the first session broke): the others'
		 * replies are still taken, and their errors told. */
		(void)multi_upload_closed(&m);
	}
	multi_free(&m);
	close(fd);
	if (io_cancelled() || r < 0) {
		log_error("upload \"%s\" to \"%s\" interrupted", lpath, rpath);
	}
	if (io_cancelled()) {
		return SCP_E_INTR;
	}
	return r;
}

int
sftp_multi_download(struct sftp_session *s, const char *rpath,
    const struct sftp_attr *a, const struct sftp_handle *h, int dirfd,
    const char *lname, const char *ldisp, int ofl)
{
	struct multi m;
	struct outfile of;
	struct outfile_src src;
	struct timespec ts[2];
	uint64_t size, contig;
	uint8_t probe;
	uint32_t pid = 0;
	int ask;
	size_t got = 0;
	mode_t mode;
	int r, rc, keep;

	if (!(a->flags & SSH2_FILEXFER_ATTR_SIZE)) {
		return SFTP_MULTI_DECLINED;
	}
	size = a->size;
	if (!sftp_multi_possible(s, size)) {
		return SFTP_MULTI_DECLINED;
	}
	multi_peers(&m, s, size);
	if (!m.wanted) {
		return SFTP_MULTI_DECLINED;
	}
	/* The others' OPENs go first and are answered while the first
	 * session already reads. */
	multi_join(&m, rpath, SSH2_FXF_READ);
	if (h != NULL) {
		m.p[0].h = *h;
	} else if ((r = sftp_do_open(s, rpath, SSH2_FXF_READ, NULL,
	    &m.p[0].h)) != 0) {
		if (r == SCP_E_PEER) {
			log_error("remote open \"%s\": %s", rpath,
			    sftp_fx2txt(s->last_status));
		}
		rc = multi_close(&m, 1, rpath);
		multi_free(&m);
		return r == SCP_E_PEER ? (rc < 0 ? rc : 1) : r;
	}
	m.p[0].open = 1;
	mode = (a->flags & SSH2_FILEXFER_ATTR_PERMISSIONS) ?
	    (mode_t)(a->perm & 0777) : 0666;
	if (s->o->preserve) {
		ofl |= OUTFILE_PRESERVE;
	}
	src.size = size;
	src.mtime = (a->flags & SSH2_FILEXFER_ATTR_ACMODTIME) ?
	    (int64_t)a->mtime : 0;
	if (outfile_open_src(&of, dirfd, lname, mode, ofl, &src) != 0) {
		log_error("open local \"%s\": %s", ldisp, strerror(errno));
		rc = multi_close(&m, 0, rpath);
		return rc < 0 ? rc : 1;
	}
	m.of = &of;
	multi_plan(&m, size);
	sftp_meter_start(s, rpath, size);
	r = multi_run(&m);
	sftp_meter_end(s);
	contig = multi_contig(&m);
	/*
	 * STAT said `size`: more data means it changed under us.  The
	 * READ past the end and every CLOSE share one round trip (a
	 * session answers in order: the READ before its CLOSE).
	 */
	ask = r == 0 && m.fatal == 0 && !m.failed && m.done == size;
	if (ask) {
		r = sftp_send_read(s, s, &m.p[0].h, size, 1, &pid);
	}
	if (r == 0 && m.fatal == 0) {
		multi_close_send(&m, 0);
	}
	if (ask) {
		if (r == 0) {
			r = sftp_read_reply(s, pid, 1, &probe, &got);
		}
		if (r == SCP_E_PEER) {
			multi_status(&m, s->last_status);
			r = 0;
		} else if (r < 0) {
			m.fatal = r;
			r = 0;
		}
	}
	rc = r == 0 && m.fatal == 0 ? multi_close_wait(&m, 0, rpath) : 0;
	if (r == 0 && m.fatal == 0 && rc < 0) {
		m.fatal = rc;
	}
	if (r == 0) {
		r = m.fatal;
	}
	if (r < 0) {
		keep = r == SCP_E_INTR || r == SCP_E_CLOSED ||
		    r == SCP_E_TIMEOUT || r == SCP_E_SYS;
		if (keep) {
			log_error("download \"%s\" to \"%s\" interrupted",
			    rpath, ldisp);
			keep = outfile_truncate(&of, contig) == 0;
		}
		outfile_abort(&of, keep);
		multi_free(&m);
		return r;
	}
	r = 1;
	if (m.peer_fatal != 0) {
		/* Printed by the session that broke. */
		outfile_abort(&of, 0);
	} else if (m.status != 0) {
		log_error("read remote \"%s\" : %s", rpath,
		    sftp_fx2txt(m.status));
		outfile_abort(&of, 0);
	} else if (m.local_err != 0) {
		/* A full disk: what arrived whole stays for --resume. */
		log_error("write local \"%s\": %s", ldisp,
		    strerror(m.local_err));
		outfile_abort(&of, outfile_truncate(&of, contig) == 0);
	} else if (m.eof_at != UINT64_MAX || got != 0 || m.done != size) {
		log_error("read remote \"%s\": file changed size during "
		    "transfer (expected %llu bytes, got %s%llu)", rpath,
		    (unsigned long long)size, got != 0 ? "more than " : "",
		    (unsigned long long)(got != 0 ? size :
		    m.eof_at != UINT64_MAX ? m.eof_at : m.done));
		outfile_abort(&of, 0);
	} else if (rc != 0) {
		outfile_abort(&of, 0);
	} else {
		r = 0;
	}
	multi_free(&m);
	if (r != 0) {
		return r;
	}
	memset(ts, 0, sizeof(ts));
	if (s->o->preserve && (a->flags & SSH2_FILEXFER_ATTR_ACMODTIME)) {
		ts[0].tv_sec = (time_t)a->atime;
		ts[1].tv_sec = (time_t)a->mtime;
	}
	if (s->o->fsync && of.fd != -1) {
		log_debug("syncing \"%s\"", ldisp);
		if (fsync(of.fd) == -1) {
			log_error("fsync \"%s\": %s", ldisp, strerror(errno));
			outfile_abort(&of, 0);
			return 1;
		}
	}
	if (outfile_commit(&of, size, s->o->preserve &&
	    (a->flags & SSH2_FILEXFER_ATTR_ACMODTIME) ? ts : NULL) != 0) {
		log_error("write local \"%s\": %s", ldisp, strerror(errno));
		return 1;
	}
	return 0;
}

void
sftp_session_set_peers(struct sftp_session *s, sftp_peers_fn *fn,
    void *ctx)
{
	s->peers = fn;
	s->peers_ctx = ctx;
}

uint32_t
sftp_session_rtt(const struct sftp_session *s)
{
	return s->rtt_us;
}
