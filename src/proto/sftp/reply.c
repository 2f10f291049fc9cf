/*
 * The table of outstanding requests and the dispatch of replies
 * (PROTOCOL.md section 4).  Every reply must answer an outstanding
 * request with a type that fits that request.  Replies that arrive for
 * a request other than the one being waited for are kept in the table
 * until their owner collects them (by id, by owner, or the next of
 * anyone's), so any number of requests of any kind (several files at
 * once) may be in flight.  The session's own replies (VERSION, limits)
 * are handed to negotiate.c whoever waits.
 */
#include "wire.h"
#include "wire_int.h"

#include <string.h>
#include <time.h>

#include "../../util/buf.h"
#include "../../util/err.h"

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
 * wait for it, and the limits@openssh.com reply (negotiate.c).  For those
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
	if ((r = sftp_sess_msg_read(s, &b)) != 0) {
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

/*
 * The oldest reply to any outstanding request, reading messages until
 * one comes; unless `wait`, only what sits whole in the read-ahead
 * (*body NULL when none is there).
 */
static int
reply_any(struct sftp_session *s, int wait, const void **owner,
    uint32_t *id, uint8_t *type, struct buf **body)
{
	size_t got = 0, have;
	ssize_t i;
	int r;

	*body = NULL;
	while ((i = oldest_reply(s, NULL, 1, &have)) < 0) {
		if (have == 0 && wait) {
			return sftp_fail(s, SCP_E_FORMAT,
			    "internal error: no outstanding request");
		}
		if (have == 0 || (!wait && !sftp_msg_buffered(s))) {
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

int
sftp_reply_any(struct sftp_session *s, const void **owner, uint32_t *id,
    uint8_t *type, struct buf **body)
{
	return reply_any(s, 1, owner, id, type, body);
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
	return reply_any(s, 0, owner, id, type, body);
}
