/*
 * Session set-up (INIT/VERSION, limits@openssh.com) and one function per
 * request type.  PROTOCOL.md section 4.
 */
#include "sftp_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../transport/io.h"
#include "../../util/buf.h"
#include "../../util/err.h"
#include "../../util/log.h"
#include "../../util/progress.h"
#include "../../util/xmalloc.h"

static const struct {
	const char *name;
	const char *version;
	unsigned int flag;
} known_exts[] = {
	{ "posix-rename@openssh.com", "1", SFTP_EXT_POSIX_RENAME },
	{ "statvfs@openssh.com", "2", SFTP_EXT_STATVFS },
	{ "fstatvfs@openssh.com", "2", SFTP_EXT_FSTATVFS },
	{ "hardlink@openssh.com", "1", SFTP_EXT_HARDLINK },
	{ "fsync@openssh.com", "1", SFTP_EXT_FSYNC },
	{ "lsetstat@openssh.com", "1", SFTP_EXT_LSETSTAT },
	{ "limits@openssh.com", "1", SFTP_EXT_LIMITS },
	{ "expand-path@openssh.com", "1", SFTP_EXT_EXPAND_PATH },
	{ "copy-data", "1", SFTP_EXT_COPY_DATA },
	{ "users-groups-by-id@openssh.com", "1", SFTP_EXT_USERS_GROUPS },
};

/* Extensions announced in VERSION beyond this are ignored. */
#define MAX_VERSION_EXTS	1024

static int
parse_version(struct sftp_session *s, struct buf *b)
{
	const uint8_t *name, *data;
	size_t nlen, dlen, i, count = 0;
	uint8_t type;
	int r;

	if ((r = buf_get_u8(b, &type)) != 0 || type != SSH2_FXP_VERSION) {
		return sftp_fail(s, SCP_E_FORMAT,
		    "Invalid packet back from SSH2_FXP_INIT (type %u)",
		    r == 0 ? type : 0);
	}
	if ((r = buf_get_u32(b, &s->version)) != 0) {
		return sftp_fail(s, SCP_E_FORMAT, "Received short VERSION");
	}
	while (buf_len(b) > 0) {
		if ((r = buf_get_string_direct(b, &name, &nlen)) != 0 ||
		    (r = buf_get_string_direct(b, &data, &dlen)) != 0) {
			return sftp_fail(s, SCP_E_FORMAT,
			    "Malformed extension in VERSION");
		}
		if (++count > MAX_VERSION_EXTS) {
			continue;
		}
		for (i = 0; i < sizeof(known_exts) / sizeof(known_exts[0]);
		    i++) {
			if (nlen == strlen(known_exts[i].name) &&
			    memcmp(name, known_exts[i].name, nlen) == 0 &&
			    dlen == strlen(known_exts[i].version) &&
			    memcmp(data, known_exts[i].version, dlen) == 0) {
				s->exts |= known_exts[i].flag;
				log_debug2("Server supports extension \"%s\" "
				    "revision %s", known_exts[i].name,
				    known_exts[i].version);
			}
		}
	}
	log_debug2("Remote version: %u", s->version);
	return 0;
}

static uint32_t
clamp_block(uint64_t v)
{
	if (v > SFTP_MAX_BLOCK) {
		return SFTP_MAX_BLOCK;
	}
	if (v < 64) {
		return 64;
	}
	return (uint32_t)v;
}

/*
 * limits@openssh.com's reply: max-packet, max-read, max-write,
 * max-open-handles into lim[] (all 0 when the server refuses).  Frees b.
 */
static int
take_limits(struct sftp_session *s, uint8_t type, struct buf *b,
    uint64_t lim[4])
{
	uint32_t status;
	int r, i;

	if (type == SSH2_FXP_STATUS) {
		r = sftp_parse_status(b, &status, NULL);
		buf_free(b);
		if (r != 0) {
			return sftp_fail(s, r, "Malformed STATUS reply");
		}
		/* A server may offer and then refuse: use the defaults. */
		memset(lim, 0, 4 * sizeof(*lim));
		return 0;
	}
	if (type != SSH2_FXP_EXTENDED_REPLY) {
		buf_free(b);
		return sftp_fail(s, SCP_E_FORMAT,
		    "Expected SSH2_FXP_EXTENDED_REPLY(%u) packet, got %u",
		    SSH2_FXP_EXTENDED_REPLY, type);
	}
	for (i = 0; i < 4; i++) {
		if ((r = buf_get_u64(b, &lim[i])) != 0) {
			buf_free(b);
			return sftp_fail(s, SCP_E_FORMAT,
			    "Malformed limits@openssh.com reply");
		}
	}
	buf_free(b);
	return 0;
}

/* Microseconds from t0 to t1, saturated to 32 bits. */
static uint32_t
rtt_micros(const struct timespec *t0, const struct timespec *t1)
{
	int64_t us;

	us = ((int64_t)t1->tv_sec - (int64_t)t0->tv_sec) * 1000000 +
	    ((int64_t)t1->tv_nsec - (int64_t)t0->tv_nsec) / 1000;
	if (us < 0) {
		return 0;
	}
	return us > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/*
 * A timed limits@openssh.com query (its id in *id), written at once
 * and timed from here; rtt_ahead: the requests it queues behind.
 */
static int
limits_query(struct sftp_session *s, uint32_t *id)
{
	int r;

	if ((r = sftp_req_begin(s, SSH2_FXP_EXTENDED, s, id)) != 0 ||
	    (r = buf_put_cstring(s->wbuf, "limits@openssh.com")) != 0 ||
	    (r = sftp_req_send(s)) != 0) {
		return r < 0 ? r : SCP_E_FATAL;
	}
	(void)clock_gettime(CLOCK_MONOTONIC, &s->limits_t0);
	s->rtt_ahead = sftp_req_count(s, NULL);
	return sftp_flush(s);
}

/*
 * Block sizes and the handle cap from the options and lim[]
 * (limits@openssh.com; zeros for "not said").
 */
static void
limits_sizes(struct sftp_session *s, const uint64_t lim[4])
{
	if (s->o->buffer_len != 0) {
		s->read_len = s->write_len = clamp_block(s->o->buffer_len);
	} else {
		if (lim[1] != 0) {
			s->read_len = clamp_block(lim[1]);
		}
		if (lim[2] != 0) {
			s->write_len = clamp_block(lim[2]);
		}
	}
	if (s->version == 0) {
		/* OpenSSH's cap for protocol version 0 servers. */
		if (s->read_len > 20480) {
			s->read_len = 20480;
		}
		if (s->write_len > 20480) {
			s->write_len = 20480;
		}
	}
	s->max_handles = lim[3] > UINT32_MAX ? UINT32_MAX : (uint32_t)lim[3];
	bwlimit_init(&s->bw_in, s->o->bwlimit_kbits, s->read_len);
	bwlimit_init(&s->bw_out, s->o->bwlimit_kbits, s->write_len);
}

/* Requests in flight per transfer, from the options, lim[] and the
 * round trip measured so far. */
static void
limits_flight(struct sftp_session *s, const uint64_t lim[4])
{
	if (s->o->nrequests != 0) {
		s->nreq = s->o->nrequests > SFTP_MAX_NREQ ? SFTP_MAX_NREQ :
		    s->o->nrequests;
	} else if (lim[3] != 0 && lim[3] < SFTP_DEFAULT_NREQ) {
		s->nreq = (uint32_t)lim[3];
	} else {
		s->nreq = SFTP_DEFAULT_NREQ;
	}
	/* Capped until a clean timed limits reply says long. */
	if (s->o->nrequests == 0 && lim[1] != 0 && !sftp_rtt_long(s)) {
		uint32_t blk = s->read_len > s->write_len ? s->read_len :
		    s->write_len;
		/* (2 MiB until a clean sample made a loopback tree 1.7
		 * times slower: ssh's buffers again.) */
		uint32_t cap = SFTP_SHORT_INFLIGHT / blk;

		if (cap < 2) {
			cap = 2;
		}
		if (s->nreq > cap) {
			s->nreq = cap;
		}
	}
}

/* Both, from one reply (or the defaults). */
static void
limits_apply(struct sftp_session *s, const uint64_t lim[4])
{
	limits_sizes(s, lim);
	limits_flight(s, lim);
}

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
sftp_version_take(struct sftp_session *s, struct buf *b,
    const struct timespec *t1)
{
	uint64_t lim[4] = { 0, 0, 0, 0 };
	int r;

	/*
	 * The multi-session policy's estimate of the link's round trip
	 * (docs/design-speed.md): INIT->VERSION, which also counts ssh's
	 * own connection set-up when INIT was queued before ssh had
	 * connected, so the limits query, one clean round trip, replaces
	 * it when the server offers it (sftp_limits_take()).  A local
	 * server's is its start-up: 0 stands.
	 */
	if (!s->o->local) {
		s->rtt_us = rtt_micros(&s->init_t0, t1);
	}
	r = parse_version(s, b);
	buf_free(b);
	if (r != 0) {
		/* (Still pending: a set-up failure.) */
		return r;
	}
	s->version_pending = 0;
	if (!s->limits_blind) {
		limits_apply(s, lim);
	}
	/*
	 * limits@openssh.com goes out now (or again, timed, after the
	 * blind one of sftp_session_start()) and its reply is taken when
	 * it arrives, whoever waits then (msg.c): it travels with the
	 * first real requests' replies, one round trip less on a long
	 * link.  Written at once (not batched) and timed from here to its
	 * arrival, a clean measure of the link.
	 */
	if (s->exts & SFTP_EXT_LIMITS) {
		s->rtt_redo = 2;
		if ((r = limits_query(s, s->limits_blind ? &s->rtt_id :
		    &s->limits_id)) != 0) {
			return r;
		}
	}
	return 0;
}

int
sftp_limits_take(struct sftp_session *s, uint32_t id, uint8_t type,
    struct buf *b, const struct timespec *t1)
{
	uint64_t lim[4] = { 0, 0, 0, 0 };
	/* The blind query's round trip counts ssh's login. */
	int timed = id == s->rtt_id || !s->limits_blind;
	int r;

	if (id == s->rtt_id) {
		s->rtt_id = 0;
	} else {
		s->limits_id = 0;
	}
	if ((r = take_limits(s, type, b, lim)) != 0) {
		return r;
	}
	if (timed && !s->o->local) {
		uint32_t gap = rtt_micros(&s->last_reply_t, t1);

		s->rtt_us = rtt_micros(&s->limits_t0, t1);
		/*
		 * Behind many requests, a long answer may only be the
		 * server working through them (a loopback taken for a long
		 * link): then the replies ahead stream in up to it.  After
		 * a silence of a quarter of it, the server was idle when
		 * it came: a long link.  Else asked again when quiet
		 * (limits_wait).  A short answer is short.
		 */
		s->rtt_clean = s->rtt_ahead < SFTP_RTT_AHEAD_MAX ||
		    s->rtt_us < SFTP_SHORT_RTT_US || s->rtt_redo == 0 ||
		    gap >= s->rtt_us / 4;
	}
	/*
	 * The second reply (blind, then timed) only times the link and
	 * may change how many requests are kept in flight: the sizes of
	 * the first are in use (buffers were sized by them), whatever a
	 * server says the second time.
	 */
	if (!s->limits_got) {
		limits_sizes(s, lim);
		s->limits_got = 1;
	}
	limits_flight(s, lim);
	log_debug3("SFTP read %u write %u requests %u rtt %u us",
	    s->read_len, s->write_len, s->nreq, s->rtt_us);
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
sftp_can_copy_data(struct sftp_session *s)
{
	return sftp_has_ext(s, SFTP_EXT_COPY_DATA);
}

int
sftp_has_ext(struct sftp_session *s, unsigned int ext)
{
	/* A session that died first offers nothing (its next request
	 * fails anyway). */
	(void)sftp_session_version(s);
	return (s->exts & ext) != 0;
}

int
sftp_session_broken_early(const struct sftp_session *s)
{
	return s->dead && (s->version_pending || s->limits_id != 0 ||
	    s->rtt_id != 0);
}

/* Reads until VERSION and the limits reply (`timed`: and the round trip
 * sample) have been taken. */
static int
limits_wait(struct sftp_session *s, int timed)
{
	int r;

	/* Until VERSION, whether a query goes out is not known. */
	for (;;) {
		while (s->version_pending || s->limits_id != 0 ||
		    (timed && s->rtt_id != 0)) {
			if ((r = sftp_reply_pump(s)) != 0) {
				return r;
			}
		}
		if (!timed || s->dead || s->rtt_clean || !s->limits_got ||
		    s->rtt_redo == 0) {
			break;
		}
		/* The sample was behind a crowd: once more, timed from
		 * now (the last try is trusted whatever it says). */
		s->rtt_redo--;
		if ((r = limits_query(s, &s->rtt_id)) != 0) {
			return r;
		}
	}
	return s->dead ? SCP_E_CLOSED : 0;
}

int
sftp_limits(struct sftp_session *s)
{
	return limits_wait(s, 1);
}

int
sftp_limits_sizes(struct sftp_session *s)
{
	return limits_wait(s, 0);
}

int
sftp_ext_likely(struct sftp_session *s, unsigned int ext)
{
	/* Before VERSION: what every OpenSSH since 5.x offers. */
	return s->version_pending || (s->exts & ext) != 0;
}

void
sftp_session_free(struct sftp_session *s)
{
	if (s == NULL) {
		return;
	}
	sftp_upq_free(s);
	sftp_req_forget(s, NULL);
	free(s->reqs);
	buf_free(s->wbuf);
	buf_free(s->obuf);
	free(s->ibuf);
	free(s->last_status_msg);
	free(s->vfs_dir);
	free(s);
}

/* ---- replies ---- */

/*
 * A reply that should be STATUS: 0 for OK, SCP_E_PEER (code kept) for
 * an error status, fatal otherwise.
 */
static int
take_status(struct sftp_session *s, uint8_t type, struct buf *b)
{
	uint32_t code;
	char *msg = NULL;
	int r;

	if (type != SSH2_FXP_STATUS) {
		buf_free(b);
		return sftp_fail(s, SCP_E_FORMAT,
		    "Expected SSH2_FXP_STATUS(%u) packet, got %u",
		    SSH2_FXP_STATUS, type);
	}
	r = sftp_parse_status(b, &code, &msg);
	buf_free(b);
	if (r != 0) {
		free(msg);
		return sftp_fail(s, SCP_E_FORMAT, "Malformed STATUS reply");
	}
	free(s->last_status_msg);
	s->last_status_msg = msg;
	s->last_status = code;
	return code == SSH2_FX_OK ? 0 : SCP_E_PEER;
}

static int
wait_status(struct sftp_session *s, uint32_t id)
{
	struct buf *b;
	uint8_t type;
	int r;

	if ((r = sftp_reply_wait(s, id, &type, &b)) != 0) {
		return r;
	}
	return take_status(s, type, b);
}

/*
 * A reply that should be of type `want` (or a STATUS, turned into
 * SCP_E_PEER): 0 keeps `b` for the caller, else `b` is consumed.
 */
static int
check_typed(struct sftp_session *s, uint8_t type, struct buf *b,
    uint8_t want)
{
	int r;

	if (type == SSH2_FXP_STATUS) {
		r = take_status(s, type, b);
		if (r == 0) {
			/* An OK status where data was due is a
			 * protocol error. */
			return sftp_fail(s, SCP_E_FORMAT,
			    "Unexpected OK status");
		}
		return r;
	}
	if (type != want) {
		buf_free(b);
		return sftp_fail(s, SCP_E_FORMAT,
		    "Expected packet type %u, got %u", want, type);
	}
	return 0;
}

/* Waits for a reply of type `want` to `id` (or a STATUS, turned into
 * SCP_E_PEER).  *body is the caller's to free. */
static int
wait_typed(struct sftp_session *s, uint32_t id, uint8_t want,
    struct buf **body)
{
	struct buf *b;
	uint8_t type;
	int r;

	*body = NULL;
	if ((r = sftp_reply_wait(s, id, &type, &b)) != 0 ||
	    (r = check_typed(s, type, b, want)) != 0) {
		return r;
	}
	*body = b;
	return 0;
}

/* Sends the composed request, then as wait_typed(). */
static int
send_and_wait(struct sftp_session *s, uint32_t id, uint8_t want,
    struct buf **body)
{
	int r;

	*body = NULL;
	if ((r = sftp_req_send(s)) != 0) {
		return r;
	}
	return wait_typed(s, id, want, body);
}

int
sftp_take_status(struct sftp_session *s, uint8_t type, struct buf *b)
{
	return take_status(s, type, b);
}

int
sftp_take_attrs(struct sftp_session *s, uint8_t type, struct buf *b,
    struct sftp_attr *a)
{
	int r;

	if ((r = check_typed(s, type, b, SSH2_FXP_ATTRS)) != 0) {
		return r;
	}
	r = sftp_attr_decode(b, a);
	if (r == 0 && buf_len(b) != 0) {
		r = SCP_E_FORMAT;
	}
	buf_free(b);
	if (r != 0) {
		return sftp_fail(s, SCP_E_FORMAT, "Malformed ATTRS reply");
	}
	return 0;
}

static int take_handle(struct sftp_session *s, struct buf *b,
    struct sftp_handle *h);

int
sftp_take_handle(struct sftp_session *s, uint8_t type, struct buf *b,
    struct sftp_handle *h)
{
	int r;

	if ((r = check_typed(s, type, b, SSH2_FXP_HANDLE)) != 0) {
		return r;
	}
	return take_handle(s, b, h);
}

int
sftp_send_stat(struct sftp_session *s, const char *path, int lstat,
    uint32_t *id)
{
	int r;

	if ((r = sftp_req_begin(s, lstat ? SSH2_FXP_LSTAT : SSH2_FXP_STAT,
	    s, id)) != 0) {
		return r;
	}
	if ((r = buf_put_cstring(s->wbuf, path)) != 0) {
		return sftp_fail(s, r, "compose: %s", scp_strerror(r));
	}
	return sftp_req_send(s);
}

int
sftp_recv_attrs(struct sftp_session *s, uint32_t id, struct sftp_attr *a)
{
	struct buf *b;
	int r;

	if ((r = wait_typed(s, id, SSH2_FXP_ATTRS, &b)) != 0) {
		return r;
	}
	r = sftp_attr_decode(b, a);
	if (r == 0 && buf_len(b) != 0) {
		r = SCP_E_FORMAT;
	}
	buf_free(b);
	if (r != 0) {
		return sftp_fail(s, SCP_E_FORMAT, "Malformed ATTRS reply");
	}
	return 0;
}

int
sftp_do_stat(struct sftp_session *s, const char *path, int lstat,
    struct sftp_attr *a)
{
	uint32_t id;
	int r;

	if ((r = sftp_send_stat(s, path, lstat, &id)) != 0) {
		return r;
	}
	return sftp_recv_attrs(s, id, a);
}

static int
put_handle(struct sftp_session *s, const struct sftp_handle *h)
{
	return buf_put_string(s->wbuf, h->h, h->len);
}

static int
take_handle(struct sftp_session *s, struct buf *b, struct sftp_handle *h)
{
	const uint8_t *p;
	size_t n;
	int r;

	r = buf_get_string_direct(b, &p, &n);
	if (r != 0 || n > SFTP_MAX_HANDLE || buf_len(b) != 0) {
		buf_free(b);
		return sftp_fail(s, SCP_E_FORMAT, "Malformed HANDLE reply");
	}
	memcpy(h->h, p, n);
	h->len = n;
	buf_free(b);
	return 0;
}

int
sftp_send_open(struct sftp_session *s, const char *path, uint32_t pflags,
    const struct sftp_attr *a, uint32_t *id)
{
	struct sftp_attr none;
	int r;

	memset(&none, 0, sizeof(none));
	if (a == NULL) {
		a = &none;
	}
	if ((r = sftp_req_begin(s, SSH2_FXP_OPEN, s, id)) != 0) {
		return r;
	}
	if ((r = buf_put_cstring(s->wbuf, path)) != 0 ||
	    (r = buf_put_u32(s->wbuf, pflags)) != 0 ||
	    (r = sftp_attr_encode(s->wbuf, a)) != 0) {
		return sftp_fail(s, r, "compose open: %s", scp_strerror(r));
	}
	return sftp_req_send(s);
}

int
sftp_send_read(struct sftp_session *s, const void *owner,
    const struct sftp_handle *h, uint64_t off, uint32_t len, uint32_t *id)
{
	int r;

	if ((r = sftp_req_begin(s, SSH2_FXP_READ, owner, id)) != 0) {
		return r;
	}
	if ((r = buf_put_string(s->wbuf, h->h, h->len)) != 0 ||
	    (r = buf_put_u64(s->wbuf, off)) != 0 ||
	    (r = buf_put_u32(s->wbuf, len)) != 0) {
		return sftp_fail(s, r, "compose read: %s", scp_strerror(r));
	}
	return sftp_req_send(s);
}

int
sftp_recv_handle(struct sftp_session *s, uint32_t id, struct sftp_handle *h)
{
	struct buf *b;
	int r;

	if ((r = wait_typed(s, id, SSH2_FXP_HANDLE, &b)) != 0) {
		return r;
	}
	return take_handle(s, b, h);
}

int
sftp_do_open(struct sftp_session *s, const char *path, uint32_t pflags,
    const struct sftp_attr *a, struct sftp_handle *h)
{
	uint32_t id;
	int r;

	if ((r = sftp_send_open(s, path, pflags, a, &id)) != 0) {
		return r;
	}
	return sftp_recv_handle(s, id, h);
}

int
sftp_send_close(struct sftp_session *s, const struct sftp_handle *h,
    uint32_t *id)
{
	int r;

	if ((r = sftp_req_begin(s, SSH2_FXP_CLOSE, s, id)) != 0) {
		return r;
	}
	if ((r = put_handle(s, h)) != 0) {
		return sftp_fail(s, r, "compose: %s", scp_strerror(r));
	}
	return sftp_req_send(s);
}

/*
 * fsync@openssh.com on an open handle (PROTOCOL.md section 4, --fsync).
 * Sent behind the last WRITE on the same handle: the server processes a
 * handle's requests in order, so no extra round trip is needed.
 */
int
sftp_send_fsync(struct sftp_session *s, const struct sftp_handle *h,
    uint32_t *id)
{
	int r;

	if ((r = sftp_req_begin(s, SSH2_FXP_EXTENDED, s, id)) != 0) {
		return r;
	}
	if ((r = buf_put_cstring(s->wbuf, "fsync@openssh.com")) != 0 ||
	    (r = put_handle(s, h)) != 0) {
		return sftp_fail(s, r, "compose: %s", scp_strerror(r));
	}
	return sftp_req_send(s);
}

int
sftp_send_statvfs(struct sftp_session *s, const char *path, uint32_t *id)
{
	int r;

	if ((r = sftp_req_begin(s, SSH2_FXP_EXTENDED, s, id)) != 0) {
		return r;
	}
	if ((r = buf_put_cstring(s->wbuf, "statvfs@openssh.com")) != 0 ||
	    (r = buf_put_cstring(s->wbuf, path)) != 0) {
		return sftp_fail(s, r, "compose: %s", scp_strerror(r));
	}
	return sftp_req_send(s);
}

int
sftp_do_statvfs(struct sftp_session *s, const char *path, uint64_t *avail)
{
	uint32_t id;
	int r;

	*avail = 0;
	if ((r = sftp_send_statvfs(s, path, &id)) != 0) {
		return r;
	}
	return sftp_recv_statvfs(s, id, avail);
}

int
sftp_recv_statvfs(struct sftp_session *s, uint32_t id, uint64_t *avail)
{
	struct buf *b = NULL;
	uint64_t v[11];
	size_t i;
	int r;

	*avail = 0;
	if ((r = wait_typed(s, id, SSH2_FXP_EXTENDED_REPLY, &b)) != 0) {
		return r;
	}
	/* bsize frsize blocks bfree bavail files ffree favail fsid flag
	 * namemax, all uint64 (OpenSSH's PROTOCOL, statvfs@openssh.com). */
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		if ((r = buf_get_u64(b, &v[i])) != 0) {
			buf_free(b);
			return sftp_fail(s, SCP_E_FORMAT,
			    "Malformed statvfs@openssh.com reply");
		}
	}
	buf_free(b);
	/*
	 * No block accounting (/proc and other pseudo filesystems say 0
	 * blocks of 0 available): unknown, let OPEN give the real error.
	 * Saturate: a hostile server must not wrap the product.
	 */
	if (v[1] == 0 || v[2] == 0) {
		*avail = UINT64_MAX;
	} else if (v[4] > UINT64_MAX / v[1]) {
		*avail = UINT64_MAX;
	} else {
		*avail = v[4] * v[1];
	}
	return 0;
}

int
sftp_recv_status(struct sftp_session *s, uint32_t id)
{
	return wait_status(s, id);
}

int
sftp_do_close(struct sftp_session *s, const struct sftp_handle *h)
{
	uint32_t id;
	int r;

	if ((r = sftp_send_close(s, h, &id)) != 0) {
		return r;
	}
	return wait_status(s, id);
}

int
sftp_send_path(struct sftp_session *s, uint8_t type, const char *path,
    const struct sftp_attr *a, uint32_t *id)
{
	int r;

	if ((r = sftp_req_begin(s, type, s, id)) != 0) {
		return r;
	}
	if ((r = buf_put_cstring(s->wbuf, path)) != 0 ||
	    (a != NULL && (r = sftp_attr_encode(s->wbuf, a)) != 0)) {
		return sftp_fail(s, r, "compose: %s", scp_strerror(r));
	}
	return sftp_req_send(s);
}

static int
path_attr_request(struct sftp_session *s, uint8_t type, const char *path,
    const struct sftp_attr *a)
{
	uint32_t id;
	int r;

	if ((r = sftp_send_path(s, type, path, a, &id)) != 0) {
		return r;
	}
	return wait_status(s, id);
}

int
sftp_do_setstat(struct sftp_session *s, const char *path,
    const struct sftp_attr *a)
{
	return path_attr_request(s, SSH2_FXP_SETSTAT, path, a);
}

int
sftp_send_fsetstat(struct sftp_session *s, const struct sftp_handle *h,
    const struct sftp_attr *a, uint32_t *id)
{
	int r;

	if ((r = sftp_req_begin(s, SSH2_FXP_FSETSTAT, s, id)) != 0) {
		return r;
	}
	if ((r = put_handle(s, h)) != 0 ||
	    (r = sftp_attr_encode(s->wbuf, a)) != 0) {
		return sftp_fail(s, r, "compose: %s", scp_strerror(r));
	}
	return sftp_req_send(s);
}

int
sftp_do_fsetstat(struct sftp_session *s, const struct sftp_handle *h,
    const struct sftp_attr *a)
{
	uint32_t id;
	int r;

	if ((r = sftp_send_fsetstat(s, h, a, &id)) != 0) {
		return r;
	}
	return wait_status(s, id);
}

int
sftp_do_mkdir(struct sftp_session *s, const char *path,
    const struct sftp_attr *a)
{
	return path_attr_request(s, SSH2_FXP_MKDIR, path, a);
}

int
sftp_do_remove(struct sftp_session *s, const char *path)
{
	return path_attr_request(s, SSH2_FXP_REMOVE, path, NULL);
}

static int
plain_rename(struct sftp_session *s, const char *oldp, const char *newp)
{
	uint32_t id;
	int r;

	if ((r = sftp_req_begin(s, SSH2_FXP_RENAME, s, &id)) != 0) {
		return r;
	}
	if ((r = buf_put_cstring(s->wbuf, oldp)) != 0 ||
	    (r = buf_put_cstring(s->wbuf, newp)) != 0 ||
	    (r = sftp_req_send(s)) != 0) {
		return r;
	}
	return wait_status(s, id);
}

int
sftp_send_posix_rename(struct sftp_session *s, const char *oldp,
    const char *newp, uint32_t *id)
{
	int r;

	if ((r = sftp_req_begin(s, SSH2_FXP_EXTENDED, s, id)) != 0) {
		return r;
	}
	if ((r = buf_put_cstring(s->wbuf, "posix-rename@openssh.com")) != 0 ||
	    (r = buf_put_cstring(s->wbuf, oldp)) != 0 ||
	    (r = buf_put_cstring(s->wbuf, newp)) != 0) {
		return sftp_fail(s, r, "compose: %s", scp_strerror(r));
	}
	return sftp_req_send(s);
}

int
sftp_do_rename(struct sftp_session *s, const char *oldp, const char *newp)
{
	uint32_t id;
	int r;

	if (!sftp_has_ext(s, SFTP_EXT_POSIX_RENAME)) {
		/*
		 * Plain RENAME refuses to replace an existing name
		 * (filexfer-02 section 6.5): remove it first.  Not atomic.
		 */
		if (!s->rename_warned) {
			log_debug("server lacks posix-rename@openssh.com: "
			    "replacing files non-atomically");
			s->rename_warned = 1;
		}
		if ((r = sftp_do_remove(s, newp)) != 0 && r != SCP_E_PEER) {
			return r;
		}
		return plain_rename(s, oldp, newp);
	}
	if ((r = sftp_send_posix_rename(s, oldp, newp, &id)) != 0) {
		return r;
	}
	return wait_status(s, id);
}

/* A NAME reply with exactly one entry (REALPATH, expand-path). */
static int
take_name1(struct sftp_session *s, struct buf *b, char **out)
{
	struct sftp_attr a;
	const uint8_t *p;
	uint32_t count;
	size_t n;
	int r;

	*out = NULL;
	if ((r = buf_get_u32(b, &count)) != 0 || count != 1) {
		buf_free(b);
		return sftp_fail(s, SCP_E_FORMAT,
		    "Got multiple names (%u) from SSH_FXP_REALPATH",
		    r == 0 ? count : 0);
	}
	if ((r = buf_get_cstring(b, out, NULL, SFTP_MAX_PATH)) != 0 ||
	    (r = buf_get_string_direct(b, &p, &n)) != 0 ||
	    (r = sftp_attr_decode(b, &a)) != 0 || buf_len(b) != 0) {
		free(*out);
		*out = NULL;
		buf_free(b);
		return sftp_fail(s, SCP_E_FORMAT, "Malformed NAME reply");
	}
	buf_free(b);
	return 0;
}

int
sftp_take_name1(struct sftp_session *s, uint8_t type, struct buf *b,
    char **out)
{
	int r;

	*out = NULL;
	if ((r = check_typed(s, type, b, SSH2_FXP_NAME)) != 0) {
		return r;
	}
	return take_name1(s, b, out);
}

int
sftp_do_realpath(struct sftp_session *s, const char *path, char **out)
{
	struct buf *b;
	uint32_t id;
	int r;

	*out = NULL;
	if ((r = sftp_req_begin(s, SSH2_FXP_REALPATH, s, &id)) != 0) {
		return r;
	}
	if ((r = buf_put_cstring(s->wbuf, path)) != 0) {
		return sftp_fail(s, r, "compose: %s", scp_strerror(r));
	}
	if ((r = send_and_wait(s, id, SSH2_FXP_NAME, &b)) != 0) {
		return r;
	}
	return take_name1(s, b, out);
}

int
sftp_recv_realpath(struct sftp_session *s, uint32_t id, char **out)
{
	struct buf *b;
	int r;

	*out = NULL;
	if ((r = wait_typed(s, id, SSH2_FXP_NAME, &b)) != 0) {
		return r;
	}
	return take_name1(s, b, out);
}

int
sftp_do_expand_path(struct sftp_session *s, const char *path, char **out)
{
	struct buf *b;
	uint32_t id;
	int r;

	*out = NULL;
	if ((r = sftp_req_begin(s, SSH2_FXP_EXTENDED, s, &id)) != 0) {
		return r;
	}
	if ((r = buf_put_cstring(s->wbuf, "expand-path@openssh.com")) != 0 ||
	    (r = buf_put_cstring(s->wbuf, path)) != 0) {
		return sftp_fail(s, r, "compose: %s", scp_strerror(r));
	}
	if ((r = send_and_wait(s, id, SSH2_FXP_NAME, &b)) != 0) {
		return r;
	}
	return take_name1(s, b, out);
}

void
sftp_dirents_free(struct sftp_dirent *ents, size_t n)
{
	size_t i;

	for (i = 0; ents != NULL && i < n; i++) {
		free(ents[i].name);
	}
	free(ents);
}

/*
 * Adds the entries of one NAME reply to *ents.  *seen counts every entry
 * received, dropped ones too, so that a server cannot keep us listing
 * forever.  *count receives the number in this reply.
 */
static int
take_names(struct sftp_session *s, struct buf *b, const char *path,
    struct sftp_dirent **ents, size_t *n, size_t *alloc, size_t *seen,
    size_t *suspect, uint32_t *countp)
{
	const uint8_t *name, *longname;
	size_t nlen, llen;
	struct sftp_attr a;
	uint32_t count, i;
	int r;

	if ((r = buf_get_u32(b, &count)) != 0) {
		return SCP_E_FORMAT;
	}
	*countp = count;
	for (i = 0; i < count; i++) {
		if (++*seen > SFTP_MAX_DIRENTS) {
			return SCP_E_TOOBIG;
		}
		if ((r = buf_get_string_direct(b, &name, &nlen)) != 0 ||
		    (r = buf_get_string_direct(b, &longname, &llen)) != 0 ||
		    (r = sftp_attr_decode(b, &a)) != 0) {
			return SCP_E_FORMAT;
		}
		/*
		 * A name with '/' (or NUL) could reach outside a
		 * recursive copy's directory (OpenSSH's check).
		 */
		if (nlen == 0 || memchr(name, '/', nlen) != NULL ||
		    memchr(name, '\0', nlen) != NULL) {
			char *tmp = xstrndup((const char *)name, nlen);

			s->suspect_names++;
			/* A few are enough to see what is going on. */
			if (++*suspect <= 10) {
				log_error("Server sent suspect path \"%s\" "
				    "during readdir of \"%s\"", tmp, path);
			} else if (*suspect == 11) {
				log_error("more suspect paths during readdir "
				    "of \"%s\" not shown", path);
			}
			free(tmp);
			continue;
		}
		if (*n == *alloc) {
			*alloc = *alloc ? *alloc * 2 : 64;
			*ents = xreallocarray(*ents, *alloc, sizeof(**ents));
		}
		(*ents)[*n].name = xstrndup((const char *)name, nlen);
		(*ents)[*n].a = a;
		(*n)++;
	}
	if (buf_len(b) != 0) {
		return SCP_E_FORMAT;
	}
	return 0;
}

#define READDIR_AHEAD	3

static int
send_readdir(struct sftp_session *s, const struct sftp_handle *h,
    uint32_t *id)
{
	int r;

	if ((r = sftp_req_begin(s, SSH2_FXP_READDIR, s, id)) != 0 ||
	    (r = put_handle(s, h)) != 0) {
		return r;
	}
	return sftp_req_send(s);
}

/*
 * Collects the READDIRs still in flight (ids not 0) after the end of a
 * listing: their answers (EOF) are dropped.  0, or <0 fatal.
 */
static int
readdir_drain(struct sftp_session *s, uint32_t *ids)
{
	struct buf *b;
	uint8_t type;
	size_t k;
	int r;

	for (k = 0; k < READDIR_AHEAD; k++) {
		if (ids[k] == 0) {
			continue;
		}
		r = sftp_reply_wait(s, ids[k], &type, &b);
		ids[k] = 0;
		if (r != 0) {
			return r;
		}
		buf_free(b);
	}
	return 0;
}

int
sftp_pend_collect(struct sftp_session *s, struct sftp_pend *p)
{
	struct buf *b;
	uint8_t type;
	size_t k;
	int r = 0;

	for (k = 0; k < p->n && r == 0; k++) {
		if (!s->dead && (r = sftp_reply_wait(s, p->id[k], &type,
		    &b)) == 0) {
			buf_free(b);
		}
	}
	p->n = 0;
	return r;
}

int
sftp_do_readdir(struct sftp_session *s, const char *path,
    struct sftp_dirent **entsp, size_t *np)
{
	return sftp_do_readdir_ex(s, path, entsp, np, NULL);
}

int
sftp_do_readdir_ex(struct sftp_session *s, const char *path,
    struct sftp_dirent **entsp, size_t *np, struct sftp_pend *pend)
{
	struct sftp_dirent *ents = NULL;
	struct sftp_handle h;
	size_t n = 0, alloc = 0, seen = 0, suspect = 0, k;
	struct buf *b;
	uint8_t type;
	uint32_t id, count = 0, ids[READDIR_AHEAD] = { 0 };
	int r, rc;

	*entsp = NULL;
	*np = 0;
	if (pend != NULL) {
		pend->n = 0;
	}
	if ((r = sftp_req_begin(s, SSH2_FXP_OPENDIR, s, &id)) != 0) {
		return r;
	}
	if ((r = buf_put_cstring(s->wbuf, path)) != 0) {
		return sftp_fail(s, r, "compose: %s", scp_strerror(r));
	}
	if ((r = send_and_wait(s, id, SSH2_FXP_HANDLE, &b)) != 0 ||
	    (r = take_handle(s, b, &h)) != 0) {
		return r;
	}
	/*
	 * READDIR_AHEAD requests in flight: the server answers them in
	 * order, so a listing of a few hundred names costs one round trip;
	 * the ones after the end say EOF and are collected before CLOSE.
	 */
	for (k = 0; k < READDIR_AHEAD; k++) {
		if ((r = send_readdir(s, &h, &ids[k])) != 0) {
			goto fail;
		}
	}
	for (k = 0;; k = (k + 1) % READDIR_AHEAD) {
		r = sftp_reply_wait(s, ids[k], &type, &b);
		ids[k] = 0;
		if (r != 0) {
			goto fail;
		}
		if (type == SSH2_FXP_STATUS) {
			r = take_status(s, type, b);
			if (r == SCP_E_PEER && s->last_status == SSH2_FX_EOF) {
				break;
			}
			if (r == 0) {
				r = sftp_fail(s, SCP_E_FORMAT,
				    "Unexpected OK status in READDIR");
			}
			goto fail;
		}
		rc = take_names(s, b, path, &ents, &n, &alloc, &seen,
		    &suspect, &count);
		buf_free(b);
		if (rc == SCP_E_TOOBIG) {
			log_error("remote readdir \"%s\": too many entries",
			    path);
			r = SCP_E_PEER;
			s->last_status = SSH2_FX_FAILURE;
			goto fail;
		}
		if (rc != 0) {
			r = sftp_fail(s, SCP_E_FORMAT, "Malformed NAME reply");
			goto fail;
		}
		/* An empty reply ends the listing (OpenSSH does the same). */
		if (count == 0) {
			break;
		}
		if ((r = send_readdir(s, &h, &ids[k])) != 0) {
			goto fail;
		}
	}
	if (pend != NULL) {
		/*
		 * The READDIRs past the end and the CLOSE are left for the
		 * caller to collect with its next requests' replies: no
		 * round trip of their own.
		 */
		for (k = 0; k < READDIR_AHEAD; k++) {
			if (ids[k] != 0) {
				pend->id[pend->n++] = ids[k];
				ids[k] = 0;
			}
		}
		if ((r = sftp_send_close(s, &h, &id)) != 0) {
			goto out;
		}
		pend->id[pend->n++] = id;
	} else if ((r = readdir_drain(s, ids)) != 0) {
		goto out;
	} else if ((r = sftp_do_close(s, &h)) != 0 && r != SCP_E_PEER) {
		goto out;
	}
	*entsp = ents;
	*np = n;
	return 0;
fail:
	if (!s->dead) {
		uint32_t st = s->last_status;

		if (readdir_drain(s, ids) == 0) {
			(void)sftp_do_close(s, &h);
		}
		s->last_status = st;
	}
out:
	sftp_dirents_free(ents, n);
	return r;
}

char *
sftp_path_append(const char *dir, const char *name)
{
	size_t dl = strlen(dir);

	if (dl == 0) {
		return xstrdup(name);
	}
	if (dir[dl - 1] == '/') {
		return xasprintf("%s%s", dir, name);
	}
	return xasprintf("%s/%s", dir, name);
}

void
sftp_meter_start(struct sftp_session *s, const char *path, uint64_t size)
{
	const char *p;

	if (!s->o->progress) {
		return;
	}
	/* OpenSSH's progress_meter_path(): the last component. */
	p = strrchr(path, '/');
	if (p == NULL || p[1] == '\0') {
		p = path;
	} else {
		p++;
	}
	progress_start(p, size);
}

void
sftp_meter_update(struct sftp_session *s, uint64_t done)
{
	if (s->o->progress) {
		progress_update(done);
	}
}

void
sftp_meter_end(struct sftp_session *s)
{
	if (s->o->progress) {
		progress_end();
	}
}
