/* The hand-written server end for the SFTP wire tests (sftp_wire_peer.h). */
#include "sftp_wire_peer.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <unistd.h>

#include "proto/sftp/wire.h"
#include "util/buf.h"

void
wire_peer_raw(int fd, const void *p, size_t n)
{
	assert_int_equal(write(fd, p, n), (ssize_t)n);
}

void
wire_peer_msg(int fd, struct buf *b)
{
	uint8_t len[4];
	size_t n = buf_len(b);

	len[0] = (uint8_t)(n >> 24);
	len[1] = (uint8_t)(n >> 16);
	len[2] = (uint8_t)(n >> 8);
	len[3] = (uint8_t)n;
	wire_peer_raw(fd, len, 4);
	wire_peer_raw(fd, buf_ptr(b), n);
	buf_reset(b);
}

struct sftp_session *
wire_peer_open(int sv[2], const char *ext, const struct sftp_opts *o)
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
	wire_peer_msg(sv[1], b);
	buf_free(b);
	assert_int_equal(sftp_session_open(&s, sv[0], sv[0], o), 0);
	/* Drop INIT. */
	assert_int_equal(read(sv[1], junk, 9), 9);
	return s;
}

void
wire_peer_close(struct sftp_session *s, int sv[2])
{
	sftp_session_free(s);
	close(sv[0]);
	close(sv[1]);
}
