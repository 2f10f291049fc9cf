/*
 * Unit tests for the SFTP framing, request table, ATTRS, glob matching
 * and path preparation (PROTOCOL.md section 4).  Replies are written in
 * advance into a socketpair, so no server process is needed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/sftp/sftp_int.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"

static struct sftp_opts opts;

static void
put_raw(int fd, const void *p, size_t n)
{
	assert_int_equal(write(fd, p, n), (ssize_t)n);
}

/* Frames `b` (type, id, body...) with its length and writes it. */
static void
put_msg(int fd, struct buf *b)
{
	uint8_t len[4];
	size_t n = buf_len(b);

	len[0] = (uint8_t)(n >> 24);
	len[1] = (uint8_t)(n >> 16);
	len[2] = (uint8_t)(n >> 8);
	len[3] = (uint8_t)n;
	put_raw(fd, len, 4);
	put_raw(fd, buf_ptr(b), n);
	buf_reset(b);
}

/* A session whose server end is sv[1]; VERSION 3 already answered. */
static struct sftp_session *
open_session(int sv[2], const char *ext)
{
	struct sftp_session *s = NULL;
	struct buf *b = buf_new(4096);
	uint8_t junk[64];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	buf_put_u8(b, SSH2_FXP_VERSION);
	buf_put_u32(b, 3);
	if (ext != NULL) {
		buf_put_cstring(b, ext);
		buf_put_cstring(b, "1");
	}
	put_msg(sv[1], b);
	buf_free(b);
	assert_int_equal(sftp_session_open(&s, sv[0], sv[0], &opts), 0);
	/* Drop INIT. */
	assert_int_equal(read(sv[1], junk, 9), 9);
	return s;
}

static void
close_session(struct sftp_session *s, int sv[2])
{
	sftp_session_free(s);
	close(sv[0]);
	close(sv[1]);
}

static int
msg_read_bytes(const void *p, size_t n, struct buf **out)
{
	int fds[2], r;

	assert_int_equal(pipe(fds), 0);
	put_raw(fds[1], p, n);
	close(fds[1]);
	r = sftp_msg_read(fds[0], out);
	close(fds[0]);
	return r;
}

static void
test_framing(void **state)
{
	static const uint8_t ok[] = { 0, 0, 0, 2, 101, 7 };
	static const uint8_t huge[] = { 0xff, 0xff, 0xff, 0xff, 1, 2 };
	static const uint8_t text[] = "Welcome to my shell!\n";
	static const uint8_t trunc[] = { 0, 0, 0, 10, 1, 2, 3 };
	static const uint8_t zero[] = { 0, 0, 0, 0 };
	static const uint8_t half[] = { 0, 0 };
	static const uint8_t capok[] = { 0, 4, 0x04, 0x00 };
	struct buf *b = NULL;

	(void)state;
	assert_int_equal(msg_read_bytes(ok, sizeof(ok), &b), 0);
	assert_int_equal(buf_len(b), 2);
	buf_free(b);
	assert_int_equal(msg_read_bytes(huge, sizeof(huge), &b),
	    SCP_E_TOOBIG);
	assert_null(b);
	assert_int_equal(msg_read_bytes(text, sizeof(text) - 1, &b),
	    SCP_E_TOOBIG);
	assert_int_equal(msg_read_bytes(trunc, sizeof(trunc), &b),
	    SCP_E_CLOSED);
	assert_null(b);
	assert_int_equal(msg_read_bytes(zero, sizeof(zero), &b),
	    SCP_E_FORMAT);
	assert_int_equal(msg_read_bytes(half, sizeof(half), &b),
	    SCP_E_CLOSED);
	assert_int_equal(msg_read_bytes(half, 0, &b), SCP_E_CLOSED);
	/* 256 KiB + 1024 is the cap: a length just above fails early. */
	assert_int_equal(sftp_msg_check_len(SFTP_MSG_CAP), 0);
	assert_int_equal(sftp_msg_check_len(SFTP_MSG_CAP + 1), SCP_E_TOOBIG);
	assert_int_equal(msg_read_bytes(capok, sizeof(capok), &b),
	    SCP_E_CLOSED);
}

static void
test_version(void **state)
{
	struct sftp_session *s = NULL;
	struct buf *b = buf_new(4096);
	int sv[2];

	(void)state;
	s = open_session(sv, "posix-rename@openssh.com");
	assert_true(s->exts & SFTP_EXT_POSIX_RENAME);
	assert_int_equal(s->read_len, SFTP_DEFAULT_BLOCK);
	assert_int_equal(s->nreq, SFTP_DEFAULT_NREQ);
	close_session(s, sv);

	/* A reply other than VERSION. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	buf_put_u8(b, SSH2_FXP_STATUS);
	buf_put_u32(b, 3);
	put_msg(sv[1], b);
	assert_int_equal(sftp_session_open(&s, sv[0], sv[0], &opts),
	    SCP_E_FORMAT);
	assert_null(s);
	close(sv[0]);
	close(sv[1]);

	/* Truncated extension pair. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	buf_put_u8(b, SSH2_FXP_VERSION);
	buf_put_u32(b, 3);
	buf_put_u32(b, 100);
	put_msg(sv[1], b);
	assert_true(sftp_session_open(&s, sv[0], sv[0], &opts) < 0);
	close(sv[0]);
	close(sv[1]);
	buf_free(b);
}

/* VERSION 3 offering limits@openssh.com only. */
static void
put_version_limits(int fd, struct buf *b)
{
	buf_put_u8(b, SSH2_FXP_VERSION);
	buf_put_u32(b, 3);
	buf_put_cstring(b, "limits@openssh.com");
	buf_put_cstring(b, "1");
	put_msg(fd, b);
}

/* A limits@openssh.com reply to request `id` (max-packet 262144). */
static void
put_limits_reply(int fd, struct buf *b, uint32_t id, uint64_t rd,
    uint64_t wr, uint64_t handles)
{
	buf_put_u8(b, SSH2_FXP_EXTENDED_REPLY);
	buf_put_u32(b, id);
	buf_put_u64(b, 262144);
	buf_put_u64(b, rd);
	buf_put_u64(b, wr);
	buf_put_u64(b, handles);
	put_msg(fd, b);
}

static void
test_limits(void **state)
{
	struct sftp_session *s = NULL;
	struct buf *b = buf_new(4096);
	uint8_t junk[256];
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	put_version_limits(sv[1], b);
	/* A max-read of 1 MiB: more than we ever use. */
	put_limits_reply(sv[1], b, 1, 1048576, 4096, 10);
	assert_int_equal(sftp_session_open(&s, sv[0], sv[0], &opts), 0);
	/* Asked, not yet collected: a transfer's sftp_limits() does. */
	assert_int_equal(s->limits_id, 1);
	assert_int_equal(s->write_len, SFTP_DEFAULT_BLOCK);
	assert_int_equal(sftp_limits(s), 0);
	assert_int_equal(s->limits_id, 0);
	assert_int_equal(s->read_len, SFTP_MAX_BLOCK);
	assert_int_equal(s->write_len, 4096);
	/* max-open-handles would allow 10; a socketpair's round trip is
	 * short, so 1 MiB of 255 KiB blocks in flight is the cap. */
	assert_int_equal(s->nreq, SFTP_SHORT_INFLIGHT / SFTP_MAX_BLOCK);
	assert_true(read(sv[1], junk, sizeof(junk)) > 9);
	close_session(s, sv);
	buf_free(b);
}

/* An ATTRS reply to request `id` with a size only. */
static void
put_attrs_reply(int fd, struct buf *b, uint32_t id, uint64_t size)
{
	buf_put_u8(b, SSH2_FXP_ATTRS);
	buf_put_u32(b, id);
	buf_put_u32(b, SSH2_FILEXFER_ATTR_SIZE);
	buf_put_u64(b, size);
	put_msg(fd, b);
}

/*
 * sftp_session_start(): requests follow INIT before VERSION is read;
 * VERSION and the limits replies are taken by whichever wait comes
 * first; a server gone before VERSION is a set-up failure.
 */
/*
 * The timed limits query (rtt) queued behind a crowd of requests: a
 * long answer streamed in right behind their replies is the server
 * working through them, not the link (sftp_limits asks again); after
 * a silence it is the link.
 */
static void
rtt_crowd(int silent)
{
	struct timespec ms12 = { 0, 12000000L };
	struct sftp_session *s = NULL;
	struct buf *b = buf_new(4096);
	struct sftp_attr a;
	uint8_t got[4096];
	uint32_t id, first = 0;
	int sv[2], i;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(sftp_session_start(&s, sv[0], sv[0], &opts), 0);
	for (i = 0; i < 40; i++) {
		assert_int_equal(sftp_send_stat(s, "x", 0, &id), 0);
		first = first == 0 ? id : first;
	}
	assert_int_equal(sftp_flush(s), 0);
	assert_true(read(sv[1], got, sizeof(got)) > 0);
	put_version_limits(sv[1], b);
	put_limits_reply(sv[1], b, 1, 65536, 65536, 100);
	assert_int_equal(sftp_limits_sizes(s), 0);
	/* The timed query went out behind the forty STATs. */
	assert_int_equal(s->rtt_id, first + 40);
	assert_int_equal(read(sv[1], got, sizeof(got)), 31);
	if (silent) {
		for (i = 0; i < 40; i++) {
			put_attrs_reply(sv[1], b, first + (uint32_t)i, 1);
			assert_int_equal(sftp_recv_attrs(s, first +
			    (uint32_t)i, &a), 0);
		}
		nanosleep(&ms12, NULL);
		put_limits_reply(sv[1], b, first + 40, 65536, 65536, 100);
		assert_int_equal(sftp_limits(s), 0);
		/* A long link: trusted, and no query more. */
		assert_true(s->rtt_clean);
		assert_true(s->rtt_us >= SFTP_SHORT_RTT_US);
		assert_int_equal(s->nreq, SFTP_DEFAULT_NREQ);
	} else {
		nanosleep(&ms12, NULL);
		for (i = 0; i < 40; i++) {
			put_attrs_reply(sv[1], b, first + (uint32_t)i, 1);
		}
		put_limits_reply(sv[1], b, first + 40, 65536, 65536, 100);
		for (i = 0; i < 40; i++) {
			assert_int_equal(sftp_recv_attrs(s, first +
			    (uint32_t)i, &a), 0);
		}
		/* The timed reply, read after them. */
		assert_int_equal(sftp_reply_pump(s), 0);
		assert_int_equal(s->rtt_id, 0);
		assert_false(s->rtt_clean);
		/* Capped as a short link meanwhile. */
		assert_true(s->nreq * s->write_len <= SFTP_SHORT_INFLIGHT);
		/* Asked again, answered at once: a short link. */
		put_limits_reply(sv[1], b, first + 41, 65536, 65536, 100);
		assert_int_equal(sftp_limits(s), 0);
		assert_int_equal(read(sv[1], got, sizeof(got)), 31);
		assert_int_equal(got[4], SSH2_FXP_EXTENDED);
		assert_true(s->rtt_clean);
		assert_true(s->rtt_us < SFTP_SHORT_RTT_US);
	}
	buf_free(b);
	close_session(s, sv);
}

static void
test_rtt_crowd(void **state)
{
	(void)state;
	rtt_crowd(0);
	rtt_crowd(1);
}

static void
test_session_start(void **state)
{
	struct sftp_session *s = NULL;
	struct buf *b = buf_new(4096);
	struct sftp_attr a;
	uint8_t got[256];
	uint32_t id;
	ssize_t n;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(sftp_session_start(&s, sv[0], sv[0], &opts), 0);
	assert_true(s->version_pending);
	/* limits@openssh.com is asked blind, behind INIT. */
	assert_int_equal(s->limits_id, 1);
	/* Nothing answered yet, and the STAT goes out all the same. */
	assert_int_equal(sftp_send_stat(s, "x", 0, &id), 0);
	assert_int_equal(id, 2);
	assert_int_equal(sftp_flush(s), 0);
	n = read(sv[1], got, sizeof(got));
	assert_int_equal(n, 9 + 31 + 14);
	assert_int_equal(got[4], SSH2_FXP_INIT);
	assert_int_equal(got[9 + 4], SSH2_FXP_EXTENDED);
	assert_int_equal(got[9 + 31 + 4], SSH2_FXP_STAT);

	put_version_limits(sv[1], b);
	put_limits_reply(sv[1], b, 1, 65536, 65536, 100);
	put_attrs_reply(sv[1], b, 2, 77);
	/* The STAT's wait takes VERSION and the sizes first. */
	assert_int_equal(sftp_recv_attrs(s, id, &a), 0);
	assert_int_equal(a.size, 77);
	assert_false(s->version_pending);
	assert_true(s->exts & SFTP_EXT_LIMITS);
	assert_int_equal(s->limits_id, 0);
	assert_int_equal(s->read_len, 65536);
	assert_int_equal(s->max_handles, 100);
	assert_int_equal(sftp_limits_sizes(s), 0);
	/* VERSION sent a second query to time the link: id 3, nobody's
	 * request. */
	assert_int_equal(s->rtt_id, 3);
	assert_int_equal(sftp_req_count(s, NULL), 0);
	n = read(sv[1], got, sizeof(got));
	assert_int_equal(n, 31);
	assert_int_equal(got[4], SSH2_FXP_EXTENDED);

	/* Its reply is taken by the next wait; sizes already in use do not
	 * change, whatever it says. */
	put_limits_reply(sv[1], b, 3, 4096, 262144, 5);
	put_attrs_reply(sv[1], b, 4, 78);
	assert_int_equal(sftp_send_stat(s, "y", 0, &id), 0);
	assert_int_equal(id, 4);
	assert_int_equal(sftp_recv_attrs(s, id, &a), 0);
	assert_int_equal(a.size, 78);
	assert_int_equal(s->rtt_id, 0);
	assert_int_equal(s->read_len, 65536);
	assert_int_equal(s->write_len, 65536);
	assert_int_equal(s->max_handles, 100);
	assert_int_equal(sftp_limits(s), 0);
	assert_false(sftp_session_broken_early(s));
	close_session(s, sv);

	/* The server is gone before VERSION: the first wait fails, and it
	 * was the set-up that failed. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(sftp_session_start(&s, sv[0], sv[0], &opts), 0);
	assert_int_equal(sftp_send_stat(s, "x", 0, &id), 0);
	close(sv[1]);
	sv[1] = -1;
	assert_true(sftp_recv_attrs(s, id, &a) < 0);
	assert_true(s->dead);
	assert_true(sftp_session_broken_early(s));
	assert_false(sftp_has_ext(s, SFTP_EXT_LIMITS));
	sftp_session_free(s);
	close(sv[0]);

	/* Not a VERSION: OpenSSH's message, set-up failure. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(sftp_session_start(&s, sv[0], sv[0], &opts), 0);
	buf_put_u8(b, SSH2_FXP_STATUS);
	buf_put_u32(b, 1);
	buf_put_u32(b, 0);
	put_msg(sv[1], b);
	assert_int_equal(sftp_session_version(s), SCP_E_FORMAT);
	assert_true(sftp_session_broken_early(s));
	close_session(s, sv);
	buf_free(b);
}

/* Prepares a reply; the STAT below always gets id 1. */
static int
stat_with_reply(struct buf *reply)
{
	struct sftp_session *s;
	struct sftp_attr a;
	int sv[2], r;

	s = open_session(sv, NULL);
	put_msg(sv[1], reply);
	r = sftp_do_stat(s, "x", 0, &a);
	if (r != 0 && r != SCP_E_PEER) {
		assert_true(s->dead);
	}
	close_session(s, sv);
	return r;
}

static void
test_bad_replies(void **state)
{
	struct buf *b = buf_new(4096);
	int i;

	(void)state;
	/* Good ATTRS. */
	buf_put_u8(b, SSH2_FXP_ATTRS);
	buf_put_u32(b, 1);
	buf_put_u32(b, SSH2_FILEXFER_ATTR_SIZE);
	buf_put_u64(b, 5);
	assert_int_equal(stat_with_reply(b), 0);
	/* Wrong id. */
	buf_put_u8(b, SSH2_FXP_ATTRS);
	buf_put_u32(b, 99);
	buf_put_u32(b, 0);
	assert_int_equal(stat_with_reply(b), SCP_E_FORMAT);
	/* Wrong type for a STAT. */
	buf_put_u8(b, SSH2_FXP_DATA);
	buf_put_u32(b, 1);
	buf_put_string(b, "abc", 3);
	assert_int_equal(stat_with_reply(b), SCP_E_FORMAT);
	/* Unknown type. */
	buf_put_u8(b, 77);
	buf_put_u32(b, 1);
	assert_int_equal(stat_with_reply(b), SCP_E_FORMAT);
	/* Trailing garbage after ATTRS. */
	buf_put_u8(b, SSH2_FXP_ATTRS);
	buf_put_u32(b, 1);
	buf_put_u32(b, 0);
	buf_put_u8(b, 0);
	assert_int_equal(stat_with_reply(b), SCP_E_FORMAT);
	/* Truncated ATTRS. */
	buf_put_u8(b, SSH2_FXP_ATTRS);
	buf_put_u32(b, 1);
	buf_put_u32(b, SSH2_FILEXFER_ATTR_SIZE);
	buf_put_u32(b, 0);
	assert_int_equal(stat_with_reply(b), SCP_E_FORMAT);
	/* Too many extended pairs. */
	buf_put_u8(b, SSH2_FXP_ATTRS);
	buf_put_u32(b, 1);
	buf_put_u32(b, SSH2_FILEXFER_ATTR_EXTENDED);
	buf_put_u32(b, SFTP_MAX_EXT_PAIRS + 1);
	assert_int_equal(stat_with_reply(b), SCP_E_FORMAT);
	/* Error status: per-file, session fine. */
	buf_put_u8(b, SSH2_FXP_STATUS);
	buf_put_u32(b, 1);
	buf_put_u32(b, SSH2_FX_NO_SUCH_FILE);
	buf_put_cstring(b, "No such file");
	buf_put_cstring(b, "");
	assert_int_equal(stat_with_reply(b), SCP_E_PEER);
	/* Status without message (some v3 servers). */
	buf_put_u8(b, SSH2_FXP_STATUS);
	buf_put_u32(b, 1);
	buf_put_u32(b, SSH2_FX_FAILURE);
	assert_int_equal(stat_with_reply(b), SCP_E_PEER);
	/* OK status where ATTRS were due. */
	buf_put_u8(b, SSH2_FXP_STATUS);
	buf_put_u32(b, 1);
	buf_put_u32(b, SSH2_FX_OK);
	assert_int_equal(stat_with_reply(b), SCP_E_FORMAT);
	/* Short message (no id). */
	buf_put_u8(b, SSH2_FXP_ATTRS);
	assert_int_equal(stat_with_reply(b), SCP_E_FORMAT);
	/* Every truncation of a good STATUS fails cleanly. */
	for (i = 1; i < 9; i++) {
		buf_put_u8(b, SSH2_FXP_STATUS);
		buf_put_u32(b, 1);
		buf_put_u32(b, SSH2_FX_FAILURE);
		assert_int_equal(buf_unreserve(b, 9 - (size_t)i), 0);
		assert_true(stat_with_reply(b) < 0);
	}
	buf_free(b);
}

static void
test_handle_reply(void **state)
{
	struct sftp_session *s;
	struct sftp_handle h;
	struct buf *b = buf_new(4096);
	uint8_t big[SFTP_MAX_HANDLE + 1];
	int sv[2];

	(void)state;
	memset(big, 'h', sizeof(big));
	s = open_session(sv, NULL);
	buf_put_u8(b, SSH2_FXP_HANDLE);
	buf_put_u32(b, 1);
	buf_put_string(b, big, sizeof(big));
	put_msg(sv[1], b);
	assert_int_equal(sftp_do_open(s, "f", SSH2_FXF_READ, NULL, &h),
	    SCP_E_FORMAT);
	close_session(s, sv);

	s = open_session(sv, NULL);
	buf_put_u8(b, SSH2_FXP_HANDLE);
	buf_put_u32(b, 1);
	buf_put_string(b, "H1", 2);
	put_msg(sv[1], b);
	assert_int_equal(sftp_do_open(s, "f", SSH2_FXF_READ, NULL, &h), 0);
	assert_int_equal(h.len, 2);
	close_session(s, sv);
	buf_free(b);
}

/* Replies in another order than the requests: kept for their owner. */
static void
test_out_of_order(void **state)
{
	struct sftp_session *s;
	struct buf *b = buf_new(4096), *body;
	uint32_t id1, id2, id;
	uint8_t type;
	int sv[2], owner_a, owner_b;

	(void)state;
	s = open_session(sv, NULL);
	assert_int_equal(sftp_req_begin(s, SSH2_FXP_CLOSE, &owner_a, &id1),
	    0);
	assert_int_equal(sftp_req_send(s), 0);
	assert_int_equal(sftp_req_begin(s, SSH2_FXP_CLOSE, &owner_b, &id2),
	    0);
	assert_int_equal(sftp_req_send(s), 0);
	assert_int_equal(sftp_req_count(s, NULL), 2);
	buf_put_u8(b, SSH2_FXP_STATUS);
	buf_put_u32(b, id2);
	buf_put_u32(b, 0);
	put_msg(sv[1], b);
	buf_put_u8(b, SSH2_FXP_STATUS);
	buf_put_u32(b, id1);
	buf_put_u32(b, 4);
	put_msg(sv[1], b);
	assert_int_equal(sftp_reply_next(s, &owner_a, &id, &type, &body), 0);
	assert_int_equal(id, id1);
	assert_int_equal(type, SSH2_FXP_STATUS);
	buf_free(body);
	assert_int_equal(sftp_req_count(s, NULL), 1);
	assert_int_equal(sftp_reply_wait(s, id2, &type, &body), 0);
	buf_free(body);
	assert_int_equal(sftp_req_count(s, NULL), 0);
	/* A duplicate reply is a protocol error. */
	assert_int_equal(sftp_req_begin(s, SSH2_FXP_CLOSE, &owner_a, &id1),
	    0);
	assert_int_equal(sftp_req_send(s), 0);
	buf_put_u8(b, SSH2_FXP_STATUS);
	buf_put_u32(b, id2);
	buf_put_u32(b, 0);
	put_msg(sv[1], b);
	assert_int_equal(sftp_reply_wait(s, id1, &type, &body),
	    SCP_E_FORMAT);
	assert_true(s->dead);
	close_session(s, sv);
	buf_free(b);
}

/*
 * Buffered replies come back in the order they arrived, whatever the
 * table's order: the download engine keeps several READDIRs of one
 * handle in flight, and a later one's EOF must not overtake the names.
 */
static void
test_arrival_order(void **state)
{
	struct sftp_session *s;
	struct buf *b = buf_new(4096), *body;
	uint32_t ids[5], id;
	const void *who;
	uint8_t type;
	int sv[2], owner_a, owner_b, i;
	const int order[5] = { 3, 1, 4, 0, 2 };

	(void)state;
	s = open_session(sv, NULL);
	for (i = 0; i < 5; i++) {
		assert_int_equal(sftp_req_begin(s, SSH2_FXP_CLOSE,
		    i == 2 ? (void *)&owner_b : (void *)&owner_a, &ids[i]), 0);
		assert_int_equal(sftp_req_send(s), 0);
	}
	for (i = 0; i < 5; i++) {
		buf_put_u8(b, SSH2_FXP_STATUS);
		buf_put_u32(b, ids[order[i]]);
		buf_put_u32(b, 0);
		put_msg(sv[1], b);
	}
	/* Buffers 3, 1 and 4 (owner a), 0 (a) and 2 (b) before 2 is found. */
	assert_int_equal(sftp_reply_wait(s, ids[2], &type, &body), 0);
	buf_free(body);
	/* Owner a's: 3 then 1, though swap-remove moved them around. */
	assert_int_equal(sftp_reply_next(s, &owner_a, &id, &type, &body), 0);
	assert_int_equal(id, ids[3]);
	buf_free(body);
	for (i = 1; i < 4; i++) {
		assert_int_equal(sftp_reply_any(s, &who, &id, &type, &body),
		    0);
		assert_ptr_equal(who, &owner_a);
		assert_int_equal(id, ids[order[i]]);
		buf_free(body);
	}
	assert_int_equal(sftp_req_count(s, NULL), 0);
	close_session(s, sv);
	buf_free(b);
}

static void
test_attr_roundtrip(void **state)
{
	struct sftp_attr a, d;
	struct buf *b = buf_new(4096);
	uint32_t flags;

	(void)state;
	for (flags = 0; flags < 16; flags++) {
		memset(&a, 0, sizeof(a));
		a.flags = flags;
		a.size = 0x0102030405060708ULL;
		a.uid = 1;
		a.gid = 2;
		a.perm = 0100644;
		a.atime = 3;
		a.mtime = 4;
		assert_int_equal(sftp_attr_encode(b, &a), 0);
		assert_int_equal(sftp_attr_decode(b, &d), 0);
		assert_int_equal(buf_len(b), 0);
		assert_int_equal(d.flags, flags);
		if (flags & SSH2_FILEXFER_ATTR_SIZE) {
			assert_true(d.size == a.size);
		}
		if (flags & SSH2_FILEXFER_ATTR_PERMISSIONS) {
			assert_int_equal(d.perm, a.perm);
			assert_true(sftp_attr_is_reg(&d));
		} else {
			assert_false(sftp_attr_is_reg(&d));
		}
		if (flags & SSH2_FILEXFER_ATTR_ACMODTIME) {
			assert_int_equal(d.mtime, 4);
		}
	}
	/* Extended pairs are skipped. */
	buf_put_u32(b, SSH2_FILEXFER_ATTR_EXTENDED);
	buf_put_u32(b, 2);
	buf_put_cstring(b, "a@x");
	buf_put_cstring(b, "1");
	buf_put_cstring(b, "b@x");
	buf_put_cstring(b, "");
	assert_int_equal(sftp_attr_decode(b, &d), 0);
	assert_int_equal(buf_len(b), 0);
	buf_reset(b);
	buf_put_u32(b, SSH2_FILEXFER_ATTR_EXTENDED);
	buf_put_u32(b, 2);
	buf_put_cstring(b, "a@x");
	assert_true(sftp_attr_decode(b, &d) < 0);
	buf_free(b);
}

static void
test_glob_match(void **state)
{
	static const struct {
		const char *pat, *name;
		int want;
	} t[] = {
		{ "*", "abc", 1 },
		{ "*", ".abc", 0 },
		{ ".*", ".abc", 1 },
		{ "\\.*", ".abc", 1 },
		{ "a*c", "abbbc", 1 },
		{ "a*c", "abbbd", 0 },
		{ "a?c", "abc", 1 },
		{ "a?c", "ac", 0 },
		{ "[abc]x", "bx", 1 },
		{ "[abc]x", "dx", 0 },
		{ "[a-c]", "b", 1 },
		{ "[a-c]", "d", 0 },
		{ "[!a-c]", "d", 1 },
		{ "[!a-c]", "a", 0 },
		{ "[]]", "]", 1 },
		{ "[!]]", "a", 1 },
		{ "[a", "[a", 1 },
		{ "\\*", "*", 1 },
		{ "\\*", "a", 0 },
		{ "a\\?", "a?", 1 },
		{ "{a,b}", "a", 0 },
		{ "{a,b}", "{a,b}", 1 },
		{ "*.txt", "x.txt", 1 },
		{ "*.txt", "x.txt.gz", 0 },
		{ "**", "zz", 1 },
		{ "", "", 1 },
		{ "a", "", 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (sftp_glob_match(t[i].pat, strlen(t[i].pat), t[i].name) !=
		    t[i].want) {
			fail_msg("pattern '%s' name '%s': want %d",
			    t[i].pat, t[i].name, t[i].want);
		}
	}
	assert_true(sftp_glob_has_magic("a*", 2));
	assert_true(sftp_glob_has_magic("[x", 2));
	assert_false(sftp_glob_has_magic("a\\*", 3));
	assert_false(sftp_glob_has_magic("{a,b}", 5));
}

static void
test_prepare_path(void **state)
{
	static const struct {
		const char *in, *out;
		int expand;
	} t[] = {
		{ "", ".", 0 },
		{ "~", ".", 0 },
		{ "~/", ".", 0 },
		{ "~/x", "x", 0 },
		{ "~/a/b", "a/b", 0 },
		{ "~bob/x", "~bob/x", 1 },
		{ "~bob", "~bob", 1 },
		{ "/abs", "/abs", 0 },
		{ "rel/x~", "rel/x~", 0 },
	};
	size_t i;
	char *p, *u;
	int ex;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		p = sftp_prepare_path_local(t[i].in, &ex);
		assert_string_equal(p, t[i].out);
		assert_int_equal(ex, t[i].expand);
		free(p);
	}
	u = sftp_glob_unescape("a\\*b\\\\c\\");
	assert_string_equal(u, "a*b\\c\\");
	free(u);
}

/* Random bytes never crash the decoders (a poor man's fuzzer). */
static void
test_decode_random(void **state)
{
	struct sftp_attr a;
	struct buf *b;
	uint8_t data[64];
	uint32_t x = 1, code;
	char *msg;
	int i, j;

	(void)state;
	for (i = 0; i < 20000; i++) {
		for (j = 0; j < (int)sizeof(data); j++) {
			x = x * 1664525 + 1013904223;
			data[j] = (uint8_t)(x >> 24);
		}
		/* Small lengths and flags are the interesting ones. */
		data[0] = data[1] = data[2] = 0;
		data[4] &= 0x80;
		b = buf_view(data, (size_t)(x % sizeof(data)));
		(void)sftp_attr_decode(b, &a);
		buf_free(b);
		b = buf_view(data + 1, (size_t)(x % (sizeof(data) - 1)));
		if (sftp_parse_status(b, &code, &msg) == 0) {
			free(msg);
		}
		buf_free(b);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_framing),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_session_start),
		cmocka_unit_test(test_rtt_crowd),
		cmocka_unit_test(test_bad_replies),
		cmocka_unit_test(test_handle_reply),
		cmocka_unit_test(test_out_of_order),
		cmocka_unit_test(test_arrival_order),
		cmocka_unit_test(test_attr_roundtrip),
		cmocka_unit_test(test_glob_match),
		cmocka_unit_test(test_prepare_path),
		cmocka_unit_test(test_decode_random),
	};

	signal(SIGPIPE, SIG_IGN);
	log_init("scp", LOG_QUIET, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
