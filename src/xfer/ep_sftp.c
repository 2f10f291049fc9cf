/*
 * The SFTP endpoint (ep.h): every operation is one request (two for a
 * rename without posix-rename@openssh.com) registered with the
 * operation itself as owner, so that a reply read in any order finds
 * its operation; the wire (src/proto/sftp) does framing, validation of
 * the reply types and the batching of small requests.
 */
#include "ep_int.h"

#include <stdlib.h>
#include <string.h>

#include "../util/buf.h"
#include "../util/err.h"
#include "../util/log.h"
#include "../util/xmalloc.h"

struct ep_sftp {
	struct xep e;
	/* Owner of requests whose reply nobody needs (the REMOVE before a
	 * plain RENAME): taken and dropped by the pump. */
	char ignore;
};

static int
send_rename(struct xep *e, struct xop *op)
{
	struct ep_sftp *es = (struct ep_sftp *)e;
	struct sftp_session *s = e->s;
	uint32_t id;
	int r;

	if (sftp_has_ext(s, SFTP_EXT_POSIX_RENAME)) {
		return sftp_send_posix_rename(s, op->path, op->path2, &id);
	}
	/*
	 * Plain RENAME refuses to replace (filexfer-02 section 6.5): the
	 * REMOVE goes first on the same channel, answered in order.
	 */
	if (!s->rename_warned) {
		log_debug("server lacks posix-rename@openssh.com: "
		    "replacing files non-atomically");
		s->rename_warned = 1;
	}
	if ((r = sftp_req_begin(s, SSH2_FXP_REMOVE, &es->ignore, &id)) != 0) {
		return r;
	}
	if ((r = buf_put_cstring(s->wbuf, op->path2)) != 0) {
		return sftp_fail(s, r, "compose: %s", scp_strerror(r));
	}
	if ((r = sftp_req_send(s)) != 0) {
		return r;
	}
	e->out++;
	if ((r = sftp_req_begin(s, SSH2_FXP_RENAME, op, &id)) != 0) {
		return r;
	}
	if ((r = buf_put_cstring(s->wbuf, op->path)) != 0 ||
	    (r = buf_put_cstring(s->wbuf, op->path2)) != 0) {
		return sftp_fail(s, r, "compose: %s", scp_strerror(r));
	}
	return sftp_req_send(s);
}

/* copy-data (OpenSSH's PROTOCOL): whole file, offsets 0, to EOF. */
static int
send_copy(struct sftp_session *s, struct xop *op)
{
	uint32_t id;
	int r;

	if ((r = sftp_req_begin(s, SSH2_FXP_EXTENDED, op, &id)) != 0) {
		return r;
	}
	if ((r = buf_put_cstring(s->wbuf, "copy-data")) != 0 ||
	    (r = buf_put_string(s->wbuf, op->h->h, op->h->len)) != 0 ||
	    (r = buf_put_u64(s->wbuf, 0)) != 0 ||
	    (r = buf_put_u64(s->wbuf, 0)) != 0 ||
	    (r = buf_put_string(s->wbuf, xsink_sftp_handle(op->sk)->h,
	    xsink_sftp_handle(op->sk)->len)) != 0 ||
	    (r = buf_put_u64(s->wbuf, 0)) != 0) {
		return sftp_fail(s, r, "compose: %s", scp_strerror(r));
	}
	return sftp_req_send(s);
}

static int
send_write(struct sftp_session *s, struct xop *op)
{
	const struct sftp_handle *h = op->sk != NULL ?
	    xsink_sftp_handle(op->sk) : op->h;
	uint32_t id;
	int r;

	if ((r = sftp_req_begin(s, SSH2_FXP_WRITE, op, &id)) != 0) {
		return r;
	}
	if ((r = buf_put_string(s->wbuf, h->h, h->len)) != 0 ||
	    (r = buf_put_u64(s->wbuf, op->off)) != 0) {
		return sftp_fail(s, r, "compose write: %s", scp_strerror(r));
	}
	return sftp_req_send_data(s, op->wdata, op->wlen);
}

static int
send_readdir(struct sftp_session *s, struct xop *op)
{
	uint32_t id;
	int r;

	if ((r = sftp_req_begin(s, SSH2_FXP_READDIR, op, &id)) != 0) {
		return r;
	}
	if ((r = buf_put_string(s->wbuf, op->h->h, op->h->len)) != 0) {
		return sftp_fail(s, r, "compose: %s", scp_strerror(r));
	}
	return sftp_req_send(s);
}

static int
ep_start(struct xep *e, struct xop *op)
{
	struct sftp_session *s = e->s;
	uint32_t id;
	int r;

	if (s->dead) {
		return SCP_E_FATAL;
	}
	op->rc = 0;
	op->fx = 0;
	op->data = NULL;
	op->dlen = 0;
	op->rpath = NULL;
	/* Composite: its requests are its own operations. */
	if (op->kind == XOP_CREATE) {
		return xsink_sftp_create(e, op);
	}
	if (op->kind == XOP_COMMIT) {
		return xsink_sftp_commit(e, op);
	}
	if (op->kind == XOP_LIST) {
		return xlist_sftp_start(e, op);
	}
	if (op->kind == XOP_DIR) {
		return xdir_sftp_start(e, op);
	}
	/* The helpers register their request for the session: make it
	 * this operation's. */
	sftp_req_owner(s, op);
	switch (op->kind) {
	case XOP_STAT:
	case XOP_LSTAT:
		r = sftp_send_stat(s, op->path, op->kind == XOP_LSTAT, &id);
		break;
	case XOP_OPEN:
		r = sftp_send_open(s, op->path, op->flags, &op->a, &id);
		break;
	case XOP_READ:
		r = sftp_send_read(s, op, op->h, op->off, op->len, &id);
		break;
	case XOP_WRITE:
		r = send_write(s, op);
		break;
	case XOP_FSETSTAT:
		r = sftp_send_fsetstat(s, op->h, &op->a, &id);
		break;
	case XOP_SETSTAT:
		r = sftp_send_path(s, SSH2_FXP_SETSTAT, op->path, &op->a, &id);
		break;
	case XOP_FSYNC:
		r = sftp_send_fsync(s, op->h, &id);
		break;
	case XOP_CLOSE:
		r = sftp_send_close(s, op->h, &id);
		break;
	case XOP_RENAME:
		r = send_rename(e, op);
		break;
	case XOP_REMOVE:
		r = sftp_send_path(s, SSH2_FXP_REMOVE, op->path, NULL, &id);
		break;
	case XOP_COPY:
		r = send_copy(s, op);
		break;
	case XOP_REALPATH:
		r = sftp_send_path(s, SSH2_FXP_REALPATH, op->path, NULL, &id);
		break;
	case XOP_MKDIR:
		r = sftp_send_path(s, SSH2_FXP_MKDIR, op->path, &op->a, &id);
		break;
	case XOP_OPENDIR:
		r = sftp_send_path(s, SSH2_FXP_OPENDIR, op->path, NULL, &id);
		break;
	case XOP_READDIR:
		r = send_readdir(s, op);
		break;
	default:
		r = sftp_fail(s, SCP_E_FATAL, "internal error: operation %d",
		    (int)op->kind);
		break;
	}
	sftp_req_owner(s, NULL);
	if (r != 0) {
		return r;
	}
	e->out++;
	return 0;
}

/* A READ's answer: DATA within what was asked, or STATUS (EOF). */
static int
take_data(struct sftp_session *s, struct xop *op, uint8_t type,
    struct buf *b)
{
	uint32_t code;

	if (type == SSH2_FXP_STATUS) {
		if (sftp_parse_status(b, &code, NULL) != 0) {
			return sftp_fail(s, SCP_E_FORMAT,
			    "Malformed STATUS reply");
		}
		op->rc = code == SSH2_FX_EOF ? XOP_EOF : SCP_E_PEER;
		op->fx = code;
		return 0;
	}
	if (type != SSH2_FXP_DATA ||
	    buf_get_string_direct(b, &op->data, &op->dlen) != 0 ||
	    buf_len(b) != 0) {
		return sftp_fail(s, SCP_E_FORMAT, "Malformed DATA reply");
	}
	if (op->dlen > op->len) {
		return sftp_fail(s, SCP_E_FORMAT, "Received more data than "
		    "asked for %zu > %u", op->dlen, op->len);
	}
	if (op->dlen == 0) {
		/* Would re-request the same range forever. */
		return sftp_fail(s, SCP_E_FORMAT, "Received empty DATA reply");
	}
	return 0;
}

/* A READDIR's answer: NAME (appended to op->ls) or STATUS (EOF). */
static int
take_names(struct sftp_session *s, struct xop *op, uint8_t type,
    struct buf *b)
{
	uint32_t count = 0;
	int r;

	if (type == SSH2_FXP_STATUS) {
		r = sftp_take_status(s, type, b);
		if (r == 0) {
			return sftp_fail(s, SCP_E_FORMAT,
			    "Unexpected OK status in READDIR");
		}
		if (r != SCP_E_PEER) {
			return r;
		}
		op->fx = s->last_status;
		op->rc = op->fx == SSH2_FX_EOF ? XOP_EOF : SCP_E_PEER;
		return 0;
	}
	if (type != SSH2_FXP_NAME) {
		buf_free(b);
		return sftp_fail(s, SCP_E_FORMAT,
		    "Expected packet type %u, got %u", SSH2_FXP_NAME, type);
	}
	r = sftp_take_names(s, b, op->path, op->ls, op->msgs, &count);
	buf_free(b);
	if (r == SCP_E_TOOBIG) {
		op->rc = SCP_E_TOOBIG;
		op->fx = SSH2_FX_FAILURE;
		return 0;
	}
	if (r != 0) {
		return sftp_fail(s, SCP_E_FORMAT, "Malformed NAME reply");
	}
	/* An empty reply ends the listing (OpenSSH does the same). */
	op->off = count;
	if (count == 0) {
		op->rc = XOP_EOF;
	}
	return 0;
}

/* Fills `op` from its reply (consumed) and completes it. */
static int
complete(struct xep *e, struct xop *op, uint8_t type, struct buf *b)
{
	struct sftp_session *s = e->s;
	int r;

	switch (op->kind) {
	case XOP_STAT:
	case XOP_LSTAT:
		r = sftp_take_attrs(s, type, b, &op->a);
		break;
	case XOP_OPEN:
		r = sftp_take_handle(s, type, b, &op->oh);
		break;
	case XOP_REALPATH:
		r = sftp_take_name1(s, type, b, &op->rpath);
		break;
	case XOP_READ:
		r = take_data(s, op, type, b);
		if (r == 0) {
			op->done(op);
		}
		buf_free(b);
		return r;
	case XOP_OPENDIR:
		r = sftp_take_handle(s, type, b, &op->oh);
		break;
	case XOP_READDIR:
		if ((r = take_names(s, op, type, b)) == 0) {
			op->done(op);
		}
		return r;
	default:
		r = sftp_take_status(s, type, b);
		break;
	}
	if (r == SCP_E_PEER) {
		op->rc = SCP_E_PEER;
		op->fx = s->last_status;
	} else if (r != 0) {
		return r;
	}
	if (op->kind == XOP_WRITE && op->sk != NULL) {
		xsink_sftp_wrote(op->sk, op);
	}
	if (op->kind == XOP_SETSTAT && op->rc != 0 && op->msgs != NULL) {
		strvec_pushf(op->msgs, "remote setstat \"%s\": %s", op->path,
		    sftp_fx2txt(op->fx));
	}
	op->done(op);
	return 0;
}

static int
ep_pump(struct xep *e)
{
	struct ep_sftp *es = (struct ep_sftp *)e;
	struct sftp_session *s = e->s;
	const void *owner;
	struct buf *b;
	uint32_t id;
	uint8_t type;
	int r, n = 0, fresh = 0;

	while (e->out > 0) {
		if ((r = sftp_reply_any_ready(s, &owner, &id, &type,
		    &b)) != 0) {
			return r;
		}
		if (b == NULL) {
			/* Nothing whole buffered: read what is there. */
			if (fresh || (r = sftp_read_ready(s)) == 0) {
				break;
			}
			if (r < 0) {
				return r;
			}
			if (!sftp_msg_buffered(s)) {
				/* No read-ahead yet: one blocking read. */
				if ((r = sftp_reply_pump(s)) != 0) {
					return r;
				}
				fresh = 1;
			}
			continue;
		}
		fresh = 0;
		e->out--;
		if (owner == &es->ignore) {
			buf_free(b);
			continue;
		}
		if (owner == s || owner == NULL) {
			/* A request of the session's own helpers left in
			 * flight under the engine: not an operation. */
			buf_free(b);
			return sftp_fail(s, SCP_E_FATAL, "internal error: "
			    "reply %u has no operation", id);
		}
		if ((r = complete(e, (struct xop *)owner, type, b)) != 0) {
			return r;
		}
		n++;
	}
	return s->dead ? SCP_E_FATAL : n;
}

static int
ep_prepare_wait(struct xep *e, int *fd)
{
	int r;

	*fd = -1;
	if ((r = sftp_flush(e->s)) != 0) {
		return r;
	}
	if (e->out > 0) {
		*fd = e->s->rfd;
	}
	return 0;
}

static void
ep_forget(struct xep *e)
{
	sftp_req_forget(e->s, NULL);
	e->out = 0;
	xlist_sftp_forget(e);
}

static int
ep_dead(const struct xep *e)
{
	return e->s->dead;
}

static void
ep_sink_drop(struct xep *e, struct xsink *sk, int code)
{
	(void)e;
	(void)code;
	/* Nothing can be sent now: the temporary file stays, as a partial
	 * OpenSSH's upload leaves. */
	xsink_sftp_drop(sk);
}

static void
ep_free(struct xep *e)
{
	xlist_sftp_forget(e);
	free(e);
}

static int
ep_fail(struct xep *e, const char *msg)
{
	return sftp_fail(e->s, SCP_E_FORMAT, "%s", msg);
}

static const struct xep_ops sftp_ops = {
	.start = ep_start,
	.pump = ep_pump,
	.prepare_wait = ep_prepare_wait,
	.forget = ep_forget,
	.dead = ep_dead,
	.sink_drop = ep_sink_drop,
	.free = ep_free,
	.fail = ep_fail,
};

struct xep *
xep_sftp(struct sftp_session *s)
{
	struct ep_sftp *es = xcalloc(1, sizeof(*es));

	es->e.ops = &sftp_ops;
	es->e.s = s;
	return &es->e;
}
