/*
 * Unit tests for the SFTP session core (PROTOCOL.md section 4): framing,
 * replies checked against their requests, and the table of outstanding
 * requests (replies kept for their owner, in arrival order).  Replies
 * are written in advance into a socketpair, so no server process is
 * needed.  VERSION and limits are test_sftp_negotiate.c's, ATTRS
 * test_sftp_attr.c's, glob and paths test_sftp_glob.c's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/sftp/wire.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"
#include "sftp_wire_peer.h"

static struct sftp_opts opts;

static int
msg_read_bytes(const void *p, size_t n, struct buf **out)
{
	int fds[2], r;

	assert_int_equal(pipe(fds), 0);
	wire_peer_raw(fds[1], p, n);
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

/* Prepares a reply; the STAT below always gets id 1. */
static int
stat_with_reply(struct buf *reply)
{
	struct sftp_session *s;
	struct sftp_attr a;
	int sv[2], r;

	s = wire_peer_open(sv, NULL, &opts);
	wire_peer_msg(sv[1], reply);
	r = sftp_do_stat(s, "x", 0, &a);
	if (r != 0 && r != SCP_E_PEER) {
		assert_true(s->dead);
	}
	wire_peer_close(s, sv);
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
	s = wire_peer_open(sv, NULL, &opts);
	buf_put_u8(b, SSH2_FXP_HANDLE);
	buf_put_u32(b, 1);
	buf_put_string(b, big, sizeof(big));
	wire_peer_msg(sv[1], b);
	assert_int_equal(sftp_do_open(s, "f", SSH2_FXF_READ, NULL, &h),
	    SCP_E_FORMAT);
	wire_peer_close(s, sv);

	s = wire_peer_open(sv, NULL, &opts);
	buf_put_u8(b, SSH2_FXP_HANDLE);
	buf_put_u32(b, 1);
	buf_put_string(b, "H1", 2);
	wire_peer_msg(sv[1], b);
	assert_int_equal(sftp_do_open(s, "f", SSH2_FXF_READ, NULL, &h), 0);
	assert_int_equal(h.len, 2);
	wire_peer_close(s, sv);
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
	s = wire_peer_open(sv, NULL, &opts);
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
	wire_peer_msg(sv[1], b);
	buf_put_u8(b, SSH2_FXP_STATUS);
	buf_put_u32(b, id1);
	buf_put_u32(b, 4);
	wire_peer_msg(sv[1], b);
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
	wire_peer_msg(sv[1], b);
	assert_int_equal(sftp_reply_wait(s, id1, &type, &body),
	    SCP_E_FORMAT);
	assert_true(s->dead);
	wire_peer_close(s, sv);
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
	s = wire_peer_open(sv, NULL, &opts);
	for (i = 0; i < 5; i++) {
		assert_int_equal(sftp_req_begin(s, SSH2_FXP_CLOSE,
		    i == 2 ? (void *)&owner_b : (void *)&owner_a, &ids[i]), 0);
		assert_int_equal(sftp_req_send(s), 0);
	}
	for (i = 0; i < 5; i++) {
		buf_put_u8(b, SSH2_FXP_STATUS);
		buf_put_u32(b, ids[order[i]]);
		buf_put_u32(b, 0);
		wire_peer_msg(sv[1], b);
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
	wire_peer_close(s, sv);
	buf_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_framing),
		cmocka_unit_test(test_bad_replies),
		cmocka_unit_test(test_handle_reply),
		cmocka_unit_test(test_out_of_order),
		cmocka_unit_test(test_arrival_order),
	};

	signal(SIGPIPE, SIG_IGN);
	log_init("scp", LOG_QUIET, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
