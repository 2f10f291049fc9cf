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
 * Downloads read at most this much per request: a reply that fits the
 * socket buffer whole can be waited for without blocking the other
 * sessions (multi_ready()).  64 requests of it still exceed a channel
 * window.
 */
#define MULTI_READ_MAX		32768
/* A session with this much of a reply waiting is read even before the
 * reply is whole (the rest is on its way). */
#define MULTI_READ_ANYWAY	131072
/* Idle rounds of 1 ms before a partial reply is read anyway. */
#define MULTI_IDLE_MAX		3

/* Chunks handed out: about four per session, within these bounds. */
#define MULTI_CHUNK_MIN		(4ULL * 1024 * 1024)
#define MULTI_CHUNK_MAX		(32ULL * 1024 * 1024)

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
	int dead;		/* the session broke during this file */
	int ready;		/* uploads: poll said writable */
	uint64_t cur, end;	/* the part of its chunk not yet asked */
	struct mreq *q;		/* outstanding requests */
	size_t nq, aq;
};

struct multi {
	struct mpeer p[MULTI_MAX];
	size_t n;
	int upload;
	int fd;			/* uploads: the local source */
	struct outfile *of;	/* downloads: the local target */
	uint8_t *blk;		/* uploads: one block read locally */
	uint64_t size, next, chunk, done;
	int failed;		/* stop sending: an error or a stop */
	int fatal;		/* first session's fatal code, or 0 */
	int peer_fatal;		/* another session's fatal code, or 0 */
	uint32_t status;	/* first error STATUS, 0 if none */
	int local_err;		/* errno of a local read/write failure */
	uint64_t eof_at;	/* downloads: lowest EOF seen */
	uint64_t hole;		/* lowest offset failed or not asked again */
};

/* Whether `s` may split a file of `size` bytes over other sessions. */
static int
multi_possible(const struct sftp_session *s, uint64_t size)
{
	const struct sftp_opts *o = s->o;

	/* --resume verifies one prefix and --inplace has no temporary
	 * file; -l is a per-session limit and would be multiplied. */
	return s->peers != NULL && !s->dead && size >= MULTI_FLOOR &&
	    !o->resume && !o->inplace && o->bwlimit_kbits == 0;
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
	n = s->peers(s->peers_ctx, s, size, s->rtt_us, extra, MULTI_MAX - 1);
	if (n > MULTI_MAX - 1) {
		n = MULTI_MAX - 1;
	}
	for (i = 0; i < n; i++) {
		/* A session that broke on an earlier file stays broken. */
		if (extra[i] != NULL && extra[i] != s && !extra[i]->dead) {
			m->p[m->n++].s = extra[i];
		}
	}
}

/* Sends OPEN of `path` on m->p[from..n), then collects the handles; a
 * session whose OPEN fails is left out (`drop`) or, for the first, the
 * error is returned (SCP_E_PEER: status in the session). */
static int
multi_open(struct multi *m, size_t from, const char *path, uint32_t pflags)
{
	uint32_t id[MULTI_MAX];
	int sent[MULTI_MAX];
	size_t i, j;
	int r, r0 = 0;

	for (i = from; i < m->n; i++) {
		sent[i] = sftp_send_open(m->p[i].s, path, pflags, NULL,
		    &id[i]) == 0;
	}
	for (i = from; i < m->n; i++) {
		r = sent[i] ? sftp_recv_handle(m->p[i].s, id[i], &m->p[i].h) :
		    SCP_E_FATAL;
		if (r == 0) {
			m->p[i].open = 1;
		} else if (i == 0) {
			r0 = r;
		} else {
			log_debug("multi: session %zu could not open \"%s\" "
			    "(%s)", i, path, scp_strerror(r));
		}
	}
	/* Keep the ones that opened. */
	for (i = j = (from == 0 ? 1 : from); i < m->n; i++) {
		if (m->p[i].open) {
			m->p[j++] = m->p[i];
		}
	}
	m->n = j;
	return r0;
}

/* Sends CLOSE on every open handle of m->p[from..n); 1 if a server
 * refused one (data may be lost), 0, or the first session's fatal. */
static int
multi_close(struct multi *m, size_t from, const char *path)
{
	uint32_t id[MULTI_MAX];
	int sent[MULTI_MAX];
	size_t i;
	int r, rc = 0;

	for (i = from; i < m->n; i++) {
		sent[i] = m->p[i].open && !m->p[i].s->dead &&
		    sftp_send_close(m->p[i].s, &m->p[i].h, &id[i]) == 0;
		m->p[i].open = 0;
	}
	for (i = from; i < m->n; i++) {
		if (!sent[i]) {
			continue;
		}
		r = sftp_recv_status(m->p[i].s, id[i]);
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
}

static int
multi_send_read(struct mpeer *p, uint64_t off, uint32_t len)
{
	struct sftp_session *s = p->s;
	uint32_t id;
	int r;

	if ((r = sftp_req_begin(s, SSH2_FXP_READ, p, &id)) != 0) {
		return r;
	}
	if ((r = buf_put_string(s->wbuf, p->h.h, p->h.len)) != 0 ||
	    (r = buf_put_u64(s->wbuf, off)) != 0 ||
	    (r = buf_put_u32(s->wbuf, len)) != 0) {
		return sftp_fail(s, r, "compose read: %s", scp_strerror(r));
	}
	if ((r = sftp_req_send(s)) != 0) {
		return r;
	}
	multi_track(p, id, off, len);
	return 0;
}

/* Uploads: reads [off, off+len) of the source and sends it.  1 when
 * the local read failed (m->local_err set). */
static int
multi_send_write(struct multi *m, struct mpeer *p, uint64_t off,
    uint32_t len)
{
	struct sftp_session *s = p->s;
	ssize_t n;
	uint32_t id;
	int r;

	n = pread(m->fd, m->blk, len, (off_t)off);
	if (n != (ssize_t)len) {
		/* Short: the file shrank while we read it. */
		m->local_err = n < 0 ? errno : 0;
		return 1;
	}
	if ((r = sftp_req_begin(s, SSH2_FXP_WRITE, p, &id)) != 0) {
		return r;
	}
	if ((r = buf_put_string(s->wbuf, p->h.h, p->h.len)) != 0 ||
	    (r = buf_put_u64(s->wbuf, off)) != 0 ||
	    (r = buf_put_string(s->wbuf, m->blk, len)) != 0) {
		return sftp_fail(s, r, "compose write: %s", scp_strerror(r));
	}
	if ((r = sftp_req_send(s)) != 0) {
		return r;
	}
	multi_track(p, id, off, len);
	return 0;
}

/*
 * Keeps session `p` busy: up to s->nreq requests of at most one block
 * each in flight (the deadlock rule above SFTP_MAX_NREQ), taking a new
 * chunk when its own runs out.  An upload sends one WRITE per poll
 * round that found the descriptor writable, so a channel whose window
 * is full never blocks the others.
 */
static int
multi_fill(struct multi *m, struct mpeer *p)
{
	struct sftp_session *s = p->s;
	uint64_t left;
	uint32_t blk, len;
	int r;

	blk = m->upload ? s->write_len : s->read_len;
	if (!m->upload && blk > MULTI_READ_MAX) {
		blk = MULTI_READ_MAX;
	}
	while (!m->failed && !io_cancelled() && p->nq < s->nreq) {
		if (p->cur == p->end) {
			if (m->next >= m->size) {
				break;
			}
			p->cur = m->next;
			left = m->size - m->next;
			p->end = p->cur + (left < m->chunk ? left : m->chunk);
			m->next = p->end;
		}
		left = p->end - p->cur;
		len = left < blk ? (uint32_t)left : blk;
		if (m->upload) {
			if (!p->ready) {
				break;
			}
			if ((r = multi_send_write(m, p, p->cur, len)) != 0) {
				if (r > 0) {
					m->failed = 1;
					return 0;
				}
				return r;
			}
			p->ready = 0;
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

/* Collects one reply of session `p`. */
static int
multi_reply(struct multi *m, struct mpeer *p)
{
	struct sftp_session *s = p->s;
	struct buf *b = NULL;
	const uint8_t *data;
	struct mreq rq;
	uint32_t id, code;
	uint8_t type;
	size_t i, dlen;
	int r;

	if ((r = sftp_reply_next(s, p, &id, &type, &b)) != 0) {
		return r;
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

/* A session broke: its requests are forgotten, the copy stops. */
static void
multi_broken(struct multi *m, struct mpeer *p, int r)
{
	p->dead = 1;
	p->open = 0;
	p->nq = 0;
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

/* Whether `s` has reply bytes buffered (poll cannot see them). */
static int
multi_buffered(const struct sftp_session *s)
{
	return s->ibuf != NULL && s->ilen > s->ioff;
}

/*
 * Whether a whole reply of `s` is waiting (read-ahead plus socket), so
 * that reading it cannot block while other sessions have data: one
 * thread waiting for the tail of one reply would leave the others'
 * windows closed.  Also 1 when plenty is there, or when it cannot be
 * told (not a socket): then the read may wait, as a single session's.
 */
static int
multi_ready(const struct sftp_session *s)
{
	uint8_t hdr[4];
	size_t have = 0, i;
	ssize_t n;
	uint32_t len;
	int q = 0;

	if (s->ibuf != NULL) {
		have = s->ilen - s->ioff;
	}
	if (ioctl(s->rfd, FIONREAD, &q) == -1 || q < 0) {
		return 1;
	}
	if (have + (size_t)q >= MULTI_READ_ANYWAY) {
		return 1;
	}
	if (have + (size_t)q < 4) {
		return 0;
	}
	for (i = 0; i < 4 && i < have; i++) {
		hdr[i] = s->ibuf[s->ioff + i];
	}
	if (i < 4) {
		n = recv(s->rfd, hdr + i, 4 - i, MSG_PEEK | MSG_DONTWAIT);
		if (n != (ssize_t)(4 - i)) {
			return 1;
		}
	}
	len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
	    (uint32_t)hdr[2] << 8 | hdr[3];
	return have + (size_t)q >= (uint64_t)len + 4;
}

/*
 * Runs the transfer until every byte is done or, after a failure, every
 * request still in flight is answered.  Only an interruption returns
 * early (SCP_E_INTR), every request forgotten.
 */
static int
multi_run(struct multi *m)
{
	struct pollfd pfd[MULTI_MAX];
	struct mpeer *p;
	size_t i, pending, got;
	int r, timeout, partial, idle = 0;

	for (;;) {
		if (io_cancelled()) {
			break;
		}
		pending = 0;
		timeout = -1;
		for (i = 0; i < m->n; i++) {
			p = &m->p[i];
			pfd[i].fd = -1;
			pfd[i].events = 0;
			pfd[i].revents = 0;
			if (p->dead) {
				continue;
			}
			if ((r = multi_fill(m, p)) != 0 ||
			    (r = sftp_flush(p->s)) != 0) {
				multi_broken(m, p, r);
				continue;
			}
			pending += p->nq;
			pfd[i].fd = p->s->rfd;
			if (p->nq > 0) {
				pfd[i].events |= POLLIN;
				if (multi_buffered(p->s)) {
					timeout = 0;
				}
			}
			if (m->upload && p->s->rfd != p->s->wfd) {
				/* One pollfd per session: plain blocking
				 * writes where they are two descriptors. */
				p->ready = 1;
			} else if (m->upload && !p->ready && !m->failed &&
			    (p->cur < p->end || m->next < m->size) &&
			    p->nq < p->s->nreq) {
				pfd[i].fd = p->s->wfd;
				pfd[i].events |= POLLOUT;
			}
			if (pfd[i].events == 0) {
				pfd[i].fd = -1;
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
		partial = 0;
		got = 0;
		for (i = 0; i < m->n; i++) {
			p = &m->p[i];
			if (p->dead) {
				continue;
			}
			if (pfd[i].revents & (POLLOUT | POLLERR | POLLHUP)) {
				p->ready = 1;
			}
			if (p->nq == 0 || (!(pfd[i].revents &
			    (POLLIN | POLLERR | POLLHUP)) &&
			    !multi_buffered(p->s))) {
				continue;
			}
			/* Whole replies only, unless waiting got too long. */
			while (p->nq > 0 && !io_cancelled() &&
			    ((pfd[i].revents & (POLLERR | POLLHUP)) ||
			    idle >= MULTI_IDLE_MAX || multi_ready(p->s))) {
				if ((r = multi_reply(m, p)) != 0) {
					multi_broken(m, p, r);
					break;
				}
				got++;
				idle = 0;
				if (!multi_buffered(p->s)) {
					break;
				}
			}
			if (!p->dead && p->nq > 0 && multi_buffered(p->s)) {
				partial = 1;
			} else if (!p->dead && p->nq > 0 && got == 0) {
				partial = 1;
			}
		}
		if (got == 0 && partial) {
			/* Only tails of replies: let them arrive. */
			idle++;
			(void)poll(NULL, 0, 1);
		}
		sftp_meter_update(m->p[0].s, m->done);
	}
	if (io_cancelled()) {
		for (i = 0; i < m->n; i++) {
			sftp_req_forget(m->p[i].s, &m->p[i]);
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
		free(m->p[i].q);
		m->p[i].q = NULL;
	}
	free(m->blk);
	m->blk = NULL;
}

/* Chunk size for `size` bytes over m->n sessions. */
static void
multi_plan(struct multi *m, uint64_t size)
{
	uint64_t c;

	m->size = size;
	m->eof_at = UINT64_MAX;
	m->hole = UINT64_MAX;
	c = size / (m->n * 4);
	c = c < MULTI_CHUNK_MIN ? MULTI_CHUNK_MIN : c;
	c = c > MULTI_CHUNK_MAX ? MULTI_CHUNK_MAX : c;
	m->chunk = c;
	log_debug("multi: %llu bytes over %zu sessions, chunks of %llu",
	    (unsigned long long)size, m->n, (unsigned long long)c);
}

int
sftp_multi_upload(struct sftp_session *s, int fd, const char *lpath,
    const char *rpath, const struct sftp_attr *a, int fresh)
{
	struct multi m;
	struct sftp_rfile rf;
	struct sftp_attr cut;
	uint64_t size = a->size;
	size_t i;
	int r, rc, ok;

	if (!multi_possible(s, size)) {
		return SFTP_MULTI_DECLINED;
	}
	multi_peers(&m, s, size);
	if (m.n < 2) {
		return SFTP_MULTI_DECLINED;
	}
	if ((r = sftp_rfile_open(&rf, s, rpath, a, fresh)) != 0) {
		close(fd);
		return r == SCP_E_PEER ? 1 : r;
	}
	m.p[0].h = rf.h;
	m.p[0].open = 1;
	/* After the first OPEN created (and truncated) it, no CREAT. */
	(void)multi_open(&m, 1, rf.tmppath != NULL ? rf.tmppath : rf.path,
	    SSH2_FXF_WRITE);
	m.upload = 1;
	m.fd = fd;
	for (i = 0; i < m.n; i++) {
		m.p[i].ready = 1;
	}
	m.blk = xmalloc(s->write_len > SFTP_MAX_BLOCK ? s->write_len :
	    SFTP_MAX_BLOCK);
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
	/* The other handles are closed before the rename. */
	rc = r == 0 && m.fatal == 0 ? multi_close(&m, 1, rpath) : 0;
	if (rc != 0) {
		ok = 0;
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
	if (rc < 0 && r >= 0) {
		r = rc;
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
    const struct sftp_attr *a, int dirfd, const char *lname,
    const char *ldisp, int ofl)
{
	struct multi m;
	struct outfile of;
	struct outfile_src src;
	struct timespec ts[2];
	uint64_t size, contig;
	uint8_t probe;
	size_t got = 0;
	mode_t mode;
	int r, rc, keep;

	if (!(a->flags & SSH2_FILEXFER_ATTR_SIZE)) {
		return SFTP_MULTI_DECLINED;
	}
	size = a->size;
	if (!multi_possible(s, size)) {
		return SFTP_MULTI_DECLINED;
	}
	multi_peers(&m, s, size);
	if (m.n < 2) {
		return SFTP_MULTI_DECLINED;
	}
	if ((r = multi_open(&m, 0, rpath, SSH2_FXF_READ)) != 0) {
		if (r == SCP_E_PEER) {
			log_error("remote open \"%s\": %s", rpath,
			    sftp_fx2txt(s->last_status));
		}
		rc = multi_close(&m, 1, rpath);
		return r == SCP_E_PEER ? (rc < 0 ? rc : 1) : r;
	}
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
	if (r == 0 && m.fatal == 0 && !m.failed && m.done == size) {
		/* STAT said `size`: more data means it changed under us. */
		r = sftp_read_block(s, &m.p[0].h, size, &probe, 1, &got);
		if (r == SCP_E_PEER) {
			multi_status(&m, s->last_status);
			r = 0;
		} else if (r < 0) {
			m.fatal = r;
			r = 0;
		}
	}
	rc = r == 0 && m.fatal == 0 ? multi_close(&m, 0, rpath) : 0;
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
