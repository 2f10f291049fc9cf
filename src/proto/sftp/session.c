/*
 * A session's life: a new session on a pair of descriptors, INIT
 * written (waiting for VERSION or not), freed.  PROTOCOL.md section 4.
 * What VERSION and limits@openssh.com say is negotiate.c's.
 */
#include "wire.h"
#include "wire_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../transport/io.h"
#include "../../util/buf.h"
#include "../../util/err.h"
#include "../../util/log.h"
#include "../../util/xmalloc.h"

/* A new session on rfd/wfd, nothing sent yet; NULL when out of memory
 * (message printed). */
static struct sftp_session *
session_new(int rfd, int wfd, const struct sftp_opts *o)
{
	struct sftp_session *s;

	s = xcalloc(1, sizeof(*s));
	s->rfd = rfd;
	s->wfd = wfd;
	s->o = o;
	s->next_id = 1;
	s->read_len = s->write_len = SFTP_DEFAULT_BLOCK;
	s->nreq = SFTP_DEFAULT_NREQ;
	/* A timed limits reply from a local server would only measure its
	 * queue (a crowd of requests ahead), never a link. */
	if (o->local) {
		s->rtt_clean = 1;
	}
	if ((s->wbuf = buf_new(SFTP_MAX_MSG + 4)) == NULL) {
		free(s);
		log_error("out of memory");
		return NULL;
	}
	bwlimit_init(&s->bw_in, 0, SFTP_DEFAULT_BLOCK);
	bwlimit_init(&s->bw_out, 0, SFTP_DEFAULT_BLOCK);
	return s;
}

/* Writes INIT and notes when (the round trip's start). */
static int
session_init(struct sftp_session *s)
{
	uint8_t init[9] = { 0, 0, 0, 5, SSH2_FXP_INIT, 0, 0, 0, 3 };

	(void)clock_gettime(CLOCK_MONOTONIC, &s->init_t0);
	if (io_write_full(s->wfd, init, sizeof(init)) != 0) {
		if (errno == EINTR) {
			return SCP_E_INTR;
		}
		/* An ssh that exited at once (it could not connect): what
		 * the read of VERSION would have said had it come first. */
		if (errno == EPIPE || errno == ECONNRESET) {
			log_error("Connection closed");
		} else {
			log_error("Couldn't send packet: %s",
			    strerror(errno));
		}
		return SCP_E_CLOSED;
	}
	return 0;
}

/* The batch and read-ahead buffers (requests are batched from here). */
static int
session_buffers(struct sftp_session *s)
{
	if (s->obuf == NULL) {
		s->obuf = buf_new(SFTP_OBUF_MAX);
	}
	if (s->ibuf == NULL) {
		s->ibuf = xmalloc(SFTP_IBUF_LEN);
	}
	if (s->obuf == NULL) {
		log_error("out of memory");
		return SCP_E_NOMEM;
	}
	return 0;
}

int
sftp_session_open(struct sftp_session **out, int rfd, int wfd,
    const struct sftp_opts *o)
{
	struct sftp_session *s;
	struct buf *b = NULL;
	struct timespec t1;
	int r;

	*out = NULL;
	if ((s = session_new(rfd, wfd, o)) == NULL) {
		return SCP_E_NOMEM;
	}
	if ((r = session_init(s)) != 0 ||
	    (r = sftp_msg_read(rfd, &b)) != 0) {
		goto fail;
	}
	(void)clock_gettime(CLOCK_MONOTONIC, &t1);
	if ((r = session_buffers(s)) != 0) {
		buf_free(b);
		goto fail;
	}
	if ((r = sftp_version_take(s, b, &t1)) != 0) {
		goto fail;
	}
	*out = s;
	return 0;
fail:
	sftp_session_free(s);
	return r < 0 ? r : SCP_E_FATAL;
}

int
sftp_session_start(struct sftp_session **out, int rfd, int wfd,
    const struct sftp_opts *o)
{
	struct sftp_session *s;
	int r;

	*out = NULL;
	if ((s = session_new(rfd, wfd, o)) == NULL) {
		return SCP_E_NOMEM;
	}
	if ((r = session_buffers(s)) != 0 || (r = session_init(s)) != 0) {
		sftp_session_free(s);
		return r;
	}
	/*
	 * Requests may follow INIT at once: the server takes them in
	 * order, after INIT (OpenSSH's sftp-server does).  The first is
	 * limits@openssh.com, asked blind (a server without it answers
	 * SSH_FX_OP_UNSUPPORTED, and the defaults stay): the sizes come
	 * back with VERSION, so an upload's walk need not wait a round
	 * trip for them.  Its round trip counts ssh's login; VERSION sends
	 * a second query to time the link (sftp_version_take()).
	 */
	s->version_pending = 1;
	if ((r = sftp_req_begin(s, SSH2_FXP_EXTENDED, s,
	    &s->limits_id)) != 0 ||
	    (r = buf_put_cstring(s->wbuf, "limits@openssh.com")) != 0 ||
	    (r = sftp_req_send(s)) != 0) {
		sftp_session_free(s);
		return r < 0 ? r : SCP_E_FATAL;
	}
	s->limits_blind = 1;
	*out = s;
	return 0;
}

int
sftp_session_version(struct sftp_session *s)
{
	int r;

	while (s->version_pending) {
		if ((r = sftp_reply_pump(s)) != 0) {
			return r;
		}
	}
	return s->dead ? SCP_E_FATAL : 0;
}

int
sftp_session_broken_early(const struct sftp_session *s)
{
	return s->dead && (s->version_pending || s->limits_id != 0 ||
	    s->rtt_id != 0);
}

void
sftp_session_free(struct sftp_session *s)
{
	if (s == NULL) {
		return;
	}
	if (s->xfer_free != NULL) {
		s->xfer_free(s);
	}
	sftp_req_forget(s, NULL);
	free(s->reqs);
	buf_free(s->wbuf);
	buf_free(s->obuf);
	free(s->ibuf);
	free(s->last_status_msg);
	free(s->vfs_dir);
	free(s);
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
