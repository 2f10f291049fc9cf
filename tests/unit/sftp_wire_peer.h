/*
 * The server's end of a socketpair, written by hand, for the unit tests
 * of the SFTP wire (test_sftp_msg.c, test_sftp_negotiate.c): replies are
 * written in advance, so no server process is needed.  Every function
 * fails the running test through cmocka assertions.
 */
#ifndef SCP_TESTS_SFTP_WIRE_PEER_H
#define SCP_TESTS_SFTP_WIRE_PEER_H

#include <stddef.h>

struct buf;
struct sftp_opts;
struct sftp_session;

/* Writes `n` bytes of `p` to `fd`, all at once. */
void wire_peer_raw(int fd, const void *p, size_t n);

/* Frames `b` (type, id, body...) with its length, writes it to `fd` and
 * empties `b`. */
void wire_peer_msg(int fd, struct buf *b);

/*
 * A new socketpair in sv[] and a session with options `o` on sv[0],
 * VERSION 3 already answered (offering extension `ext` revision "1"
 * unless NULL) and INIT read from sv[1].  The caller frees both with
 * wire_peer_close().
 */
struct sftp_session *wire_peer_open(int sv[2], const char *ext,
    const struct sftp_opts *o);

/* Frees `s` and closes both ends. */
void wire_peer_close(struct sftp_session *s, int sv[2]);

#endif /* SCP_TESTS_SFTP_WIRE_PEER_H */
