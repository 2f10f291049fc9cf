/*
 * Unit tests for what a session negotiates (PROTOCOL.md section 4):
 * VERSION and its extensions, limits@openssh.com and the round trip it
 * times, and sftp_session_start()'s requests ahead of VERSION.  Replies
 * are written in advance into a socketpair, so no server process is
 * needed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proto/sftp/wire.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"
#include "sftp_wire_peer.h"

static struct sftp_opts opts;

static void
test_version(void **state)
{
	struct sftp_session *s = NULL;
	struct buf *b = buf_new(4096);
	int sv[2];

	(void)state;
	s = wire_peer_open(sv, "posix-rename@openssh.com", &opts);
	assert_true(s->exts & SFTP_EXT_POSIX_RENAME);
	assert_int_equal(s->read_len, SFTP_DEFAULT_BLOCK);
	assert_int_equal(s->nreq, SFTP_DEFAULT_NREQ);
	wire_peer_close(s, sv);

	/* A reply other than VERSION. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	buf_put_u8(b, SSH2_FXP_STATUS);
	buf_put_u32(b, 3);
	wire_peer_msg(sv[1], b);
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
	wire_peer_msg(sv[1], b);
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
	wire_peer_msg(fd, b);
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
	wire_peer_msg(fd, b);
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
	wire_peer_close(s, sv);
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
	wire_peer_msg(fd, b);
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
	wire_peer_close(s, sv);
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
	wire_peer_close(s, sv);

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
	wire_peer_msg(sv[1], b);
	assert_int_equal(sftp_session_version(s), SCP_E_FORMAT);
	assert_true(sftp_session_broken_early(s));
	wire_peer_close(s, sv);
	buf_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_session_start),
		cmocka_unit_test(test_rtt_crowd),
	};

	signal(SIGPIPE, SIG_IGN);
	log_init("scp", LOG_QUIET, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
