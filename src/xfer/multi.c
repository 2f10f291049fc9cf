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
 * Any failure discards the temporary file (a partial with holes in the
 * middle is useless to --resume, which only checks its last block),
 * except on an interruption or a lost connection: then it is cut to the
 * prefix that is known whole and kept, as a single-session copy keeps
 * its partial.
 *
 * The files (multi_int.h between them):
 *   multi.c        this one: when to split (sftp_multi_possible), the
 *                  peer provider, which sessions take part in a file:
 *                  adopting them, their OPENs while joining, their
 *                  CLOSEs, releasing them
 *   multi_sched.c  the chunk scheduler: ranges handed to the sessions,
 *                  the contiguous prefix known whole
 *   multi_pipe.c   each session's pipeline of READs or WRITEs, the
 *                  non-blocking writes, the replies, the poll loop
 *   multi_up.c     an upload: the first session's temporary file, the
 *                  others' handles closed in its CLOSE's round trip,
 *                  the rename
 *   multi_down.c   a download: the OPENs, the local temporary file,
 *                  the READ past the end, the commit
 */
#include "multi_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../util/err.h"
#include "../util/log.h"

/* Smaller files are never split: opening handles costs round trips. */
#define MULTI_FLOOR		(8ULL * 1024 * 1024)

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
void
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
void
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
int
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
int
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
void
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
int
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
int
multi_close(struct multi *m, size_t from, const char *path)
{
	multi_close_send(m, from);
	return multi_close_wait(m, from, path);
}

void
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
