/*
 * Unit tests for the reads that never block (msg.c sftp_read_ready,
 * sftp_msg_buffered, sftp_reply_ready), which the multi-session engine
 * (multi.c) polls several sessions with: a reply that has only partly
 * arrived must never make a read wait, a whole one of any size must be
 * taken from the read-ahead intact, and replies for another owner are
 * kept for it.  Replies are written by hand into a socketpair.
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
#include "xfer/transfer.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"

static struct sftp_opts opts;

static void
put_raw(int fd, const void *p, size_t n)
{
	assert_int_equal(write(fd, p, n), (ssize_t)n);
}

/* The length prefix of a message of `n` bytes. */
static void
put_len(int fd, size_t n)
{
	uint8_t len[4];

	len[0] = (uint8_t)(n >> 24);
	len[1] = (uint8_t)(n >> 16);
	len[2] = (uint8_t)(n >> 8);
	len[3] = (uint8_t)n;
	put_raw(fd, len, 4);
}

/* A session whose server end is sv[1]; VERSION 3 already answered. */
static struct sftp_session *
open_session(int sv[2])
{
	struct sftp_session *s = NULL;
	uint8_t version[9] = { 0, 0, 0, 5, SSH2_FXP_VERSION, 0, 0, 0, 3 };
	uint8_t junk[64];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	put_raw(sv[1], version, sizeof(version));
	assert_int_equal(sftp_session_open(&s, sv[0], sv[0], &opts), 0);
	/* Drop INIT. */
	assert_int_equal(read(sv[1], junk, 9), 9);
	return s;
}

/* Registers a READ of `owner`; its request bytes are never read. */
static uint32_t
send_read(struct sftp_session *s, const void *owner)
{
	uint32_t id;

	assert_int_equal(sftp_req_begin(s, SSH2_FXP_READ, owner, &id), 0);
	assert_int_equal(sftp_req_send(s), 0);
	return id;
}

/* sftp_read_ready() until it says whole (bounded: the bytes are all
 * in the socket already, a few reads take them). */
static void
read_until_whole(struct sftp_session *s)
{
	int i, r = 0;

	for (i = 0; i < 64 && r == 0; i++) {
		r = sftp_read_ready(s);
	}
	assert_int_equal(r, 1);
	assert_int_equal(sftp_msg_buffered(s), 1);
}

/* A DATA reply bigger than the read-ahead's first size, in two parts:
 * nothing is taken (and nothing waits) until it is whole. */
static void
test_partial_then_whole(void **state)
{
	struct sftp_session *s;
	struct buf *body = NULL;
	const uint8_t *data;
	uint8_t hdr[9], *block;
	uint32_t id, got_id;
	uint8_t type;
	size_t n = 200000, dlen, i;
	int sv[2], owner;

	(void)state;
	s = open_session(sv);
	id = send_read(s, &owner);
	block = malloc(n);
	assert_non_null(block);
	for (i = 0; i < n; i++) {
		block[i] = (uint8_t)(i * 7 + 3);
	}
	/* Nothing yet: no wait, no reply. */
	assert_int_equal(sftp_read_ready(s), 0);
	assert_int_equal(sftp_reply_ready(s, &owner, &got_id, &type, &body),
	    0);
	assert_null(body);
	/* type, id, string length, then the first half of the data. */
	put_len(sv[1], 1 + 4 + 4 + n);
	hdr[0] = SSH2_FXP_DATA;
	hdr[1] = (uint8_t)(id >> 24);
	hdr[2] = (uint8_t)(id >> 16);
	hdr[3] = (uint8_t)(id >> 8);
	hdr[4] = (uint8_t)id;
	hdr[5] = (uint8_t)(n >> 24);
	hdr[6] = (uint8_t)(n >> 16);
	hdr[7] = (uint8_t)(n >> 8);
	hdr[8] = (uint8_t)n;
	put_raw(sv[1], hdr, sizeof(hdr));
	put_raw(sv[1], block, n / 2);
	for (i = 0; i < 8; i++) {
		assert_int_equal(sftp_read_ready(s), 0);
	}
	assert_int_equal(sftp_msg_buffered(s), 0);
	assert_int_equal(sftp_reply_ready(s, &owner, &got_id, &type, &body),
	    0);
	assert_null(body);
	assert_false(s->dead);
	put_raw(sv[1], block + n / 2, n - n / 2);
	read_until_whole(s);
	assert_int_equal(sftp_reply_ready(s, &owner, &got_id, &type, &body),
	    0);
	assert_non_null(body);
	assert_int_equal(got_id, id);
	assert_int_equal(type, SSH2_FXP_DATA);
	assert_int_equal(buf_get_string_direct(body, &data, &dlen), 0);
	assert_int_equal(dlen, n);
	assert_memory_equal(data, block, n);
	buf_free(body);
	assert_int_equal(sftp_req_count(s, NULL), 0);
	assert_int_equal(sftp_msg_buffered(s), 0);
	free(block);
	sftp_session_free(s);
	close(sv[0]);
	close(sv[1]);
}

/* Two owners: a whole reply for the other one is kept for it, and the
 * next read does not wait for one of ours that has not arrived. */
static void
test_other_owner_kept(void **state)
{
	struct sftp_session *s;
	struct buf *b = buf_new(4096), *body = NULL;
	uint32_t ida, idb, id;
	uint8_t type;
	int sv[2], owner_a, owner_b;

	(void)state;
	s = open_session(sv);
	assert_non_null(b);
	ida = send_read(s, &owner_a);
	idb = send_read(s, &owner_b);
	buf_put_u8(b, SSH2_FXP_STATUS);
	buf_put_u32(b, idb);
	buf_put_u32(b, SSH2_FX_EOF);
	put_len(sv[1], buf_len(b));
	put_raw(sv[1], buf_ptr(b), buf_len(b));
	read_until_whole(s);
	/* Only b's reply is there: a gets nothing, and it did not block. */
	assert_int_equal(sftp_reply_ready(s, &owner_a, &id, &type, &body),
	    0);
	assert_null(body);
	assert_int_equal(sftp_reply_ready(s, &owner_b, &id, &type, &body),
	    0);
	assert_non_null(body);
	assert_int_equal(id, idb);
	assert_int_equal(type, SSH2_FXP_STATUS);
	buf_free(body);
	assert_int_equal(sftp_req_count(s, &owner_a), 1);
	assert_int_equal(sftp_req_count(s, NULL), 1);
	(void)ida;
	sftp_session_free(s);
	close(sv[0]);
	close(sv[1]);
	buf_free(b);
}

/* The server going away mid-message: an error, the session dead. */
static void
test_eof(void **state)
{
	struct sftp_session *s;
	int sv[2], owner, i, r = 0;

	(void)state;
	s = open_session(sv);
	(void)send_read(s, &owner);
	put_len(sv[1], 1000);
	put_raw(sv[1], "\x67", 1);
	close(sv[1]);
	for (i = 0; i < 8 && r == 0; i++) {
		r = sftp_read_ready(s);
	}
	assert_int_equal(r, SCP_E_CLOSED);
	assert_true(s->dead);
	sftp_session_free(s);
	close(sv[0]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_partial_then_whole),
		cmocka_unit_test(test_other_owner_kept),
		cmocka_unit_test(test_eof),
	};

	signal(SIGPIPE, SIG_IGN);
	log_init("scp", LOG_QUIET, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
