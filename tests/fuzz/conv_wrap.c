/*
 * The syscall shims of fuzz_sftp_conv (conv.h).  The target is linked
 * with -Wl,--wrap=read,--wrap=readv,... so every call of these from
 * the code under test comes here; a call on a peer's descriptor is
 * served by conv.c, any other goes to the real function (__real_*,
 * which is the sanitizer's interceptor or libc's).
 */
#include "conv.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

ssize_t __real_read(int fd, void *p, size_t n);
ssize_t __real_readv(int fd, const struct iovec *iov, int cnt);
ssize_t __real_write(int fd, const void *p, size_t n);
ssize_t __real_writev(int fd, const struct iovec *iov, int cnt);
ssize_t __real_recv(int fd, void *p, size_t n, int flags);
ssize_t __real_send(int fd, const void *p, size_t n, int flags);
int __real_poll(struct pollfd *fds, nfds_t nfds, int timeout);

ssize_t __wrap_read(int fd, void *p, size_t n);
ssize_t __wrap_readv(int fd, const struct iovec *iov, int cnt);
ssize_t __wrap_write(int fd, const void *p, size_t n);
ssize_t __wrap_writev(int fd, const struct iovec *iov, int cnt);
ssize_t __wrap_recv(int fd, void *p, size_t n, int flags);
ssize_t __wrap_send(int fd, const void *p, size_t n, int flags);
int __wrap_poll(struct pollfd *fds, nfds_t nfds, int timeout);

ssize_t
__wrap_read(int fd, void *p, size_t n)
{
	struct conv_peer *c = conv_peer_of(fd);

	if (c == NULL) {
		return __real_read(fd, p, n);
	}
	return conv_read(c, p, n, 1);
}

/* Fills the buffers in order with what is ready, blocking (running
 * turns) only for the first byte, as readv(2) on a socket. */
ssize_t
__wrap_readv(int fd, const struct iovec *iov, int cnt)
{
	struct conv_peer *c = conv_peer_of(fd);
	ssize_t done = 0;
	long r;
	int i;

	if (c == NULL) {
		return __real_readv(fd, iov, cnt);
	}
	for (i = 0; i < cnt; i++) {
		if (iov[i].iov_len == 0) {
			continue;
		}
		r = conv_read(c, iov[i].iov_base, iov[i].iov_len, done == 0);
		if (r <= 0) {
			break;
		}
		done += r;
		if ((size_t)r < iov[i].iov_len) {
			break;
		}
	}
	return done;
}

ssize_t
__wrap_write(int fd, const void *p, size_t n)
{
	struct conv_peer *c = conv_peer_of(fd);

	if (c == NULL) {
		return __real_write(fd, p, n);
	}
	return conv_write(c, p, n);
}

ssize_t
__wrap_writev(int fd, const struct iovec *iov, int cnt)
{
	struct conv_peer *c = conv_peer_of(fd);
	ssize_t done = 0;
	int i;

	if (c == NULL) {
		return __real_writev(fd, iov, cnt);
	}
	for (i = 0; i < cnt; i++) {
		if (conv_write(c, iov[i].iov_base, iov[i].iov_len) < 0) {
			return done > 0 ? done : -1;
		}
		done += (ssize_t)iov[i].iov_len;
	}
	return done;
}

ssize_t
__wrap_recv(int fd, void *p, size_t n, int flags)
{
	struct conv_peer *c = conv_peer_of(fd);

	if (c == NULL) {
		return __real_recv(fd, p, n, flags);
	}
	return conv_read(c, p, n, (flags & MSG_DONTWAIT) == 0);
}

ssize_t
__wrap_send(int fd, const void *p, size_t n, int flags)
{
	struct conv_peer *c = conv_peer_of(fd);

	if (c == NULL) {
		return __real_send(fd, p, n, flags);
	}
	return conv_write(c, p, n);
}

/* Peers' events from conv.c; other descriptors from the real poll,
 * never waiting when a peer is in the set (they are not expected
 * together).  A wait with nothing ready runs a turn of the first peer
 * waited on for POLLIN: the conversation moves on instead of hanging. */
int
__wrap_poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
	struct conv_peer *c, *first = NULL;
	int n, peer = 0;
	nfds_t i;

	for (i = 0; i < nfds; i++) {
		if ((c = conv_peer_of(fds[i].fd)) != NULL) {
			peer = 1;
			if (first == NULL && (fds[i].events & POLLIN)) {
				first = c;
			}
		}
	}
	if (!peer) {
		return __real_poll(fds, nfds, timeout);
	}
	for (;;) {
		n = 0;
		for (i = 0; i < nfds; i++) {
			if ((c = conv_peer_of(fds[i].fd)) != NULL) {
				fds[i].revents = conv_revents(c,
				    fds[i].events);
			} else if (__real_poll(&fds[i], 1, 0) < 0) {
				fds[i].revents = POLLNVAL;
			}
			n += fds[i].revents != 0;
		}
		if (n > 0 || timeout == 0 || first == NULL) {
			return n;
		}
		conv_turn(first);
	}
}
