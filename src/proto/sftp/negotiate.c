/*
 * What a session learns before and beside its requests: VERSION and the
 * extensions it offers, limits@openssh.com (block sizes, requests in
 * flight, the handle cap) and the round trip it is timed with.
 * PROTOCOL.md section 4.  The replies are taken by reply.c's reader
 * whenever they arrive (sftp_version_take, sftp_limits_take).
 */
#include "wire.h"
#include "wire_int.h"

#include <string.h>
#include <time.h>

#include "../../util/buf.h"
#include "../../util/err.h"
#include "../../util/log.h"

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
	 * it arrives, whoever waits then (reply.c): it travels with the
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
