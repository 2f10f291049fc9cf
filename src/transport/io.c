#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t *io_cancel_flag;
static unsigned int io_timeout;

void
io_set_cancel(volatile sig_atomic_t *flag)
{
	io_cancel_flag = flag;
}

int
io_cancelled(void)
{
	return io_cancel_flag != NULL && *io_cancel_flag != 0;
}

void
io_set_timeout(unsigned int seconds)
{
	io_timeout = seconds;
}

unsigned int
io_get_timeout(void)
{
	return io_timeout;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
io_wait(int fd, short events)
{
	struct pollfd pfd;
	long long deadline = 0, left;
	int r, ms;

	if (io_timeout > 0) {
		deadline = now_ms() + (long long)io_timeout * 1000;
	}
	for (;;) {
		if (io_cancelled()) {
			errno = EINTR;
			return -1;
		}
		ms = -1;
		if (deadline != 0) {
			left = deadline - now_ms();
			if (left <= 0) {
				errno = ETIMEDOUT;
				return -1;
			}
			ms = left > 1000000 ? 1000000 : (int)left;
		}
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		r = poll(&pfd, 1, ms);
		if (r > 0) {
			return 0;
		}
		if (r == -1 && errno != EINTR && errno != EAGAIN) {
			return -1;
		}
	}
}

ssize_t
io_readv_some(int fd, const struct iovec *iov, int cnt)
{
	ssize_t r;

	for (;;) {
		/* Waiting first gives the timeout a chance on a silent peer. */
		if (io_timeout > 0 && io_wait(fd, POLLIN) == -1) {
			return -1;
		}
		r = cnt == 1 ? read(fd, iov[0].iov_base, iov[0].iov_len) :
		    readv(fd, iov, cnt);
		if (r >= 0) {
			return r;
		}
		if (errno == EINTR) {
			if (io_cancelled()) {
				return -1;
			}
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (io_wait(fd, POLLIN) == -1) {
				return -1;
			}
			continue;
		}
		return -1;
	}
}

ssize_t
io_read_some(int fd, void *p, size_t n)
{
	struct iovec v;

	v.iov_base = p;
	v.iov_len = n;
	return io_readv_some(fd, &v, 1);
}

ssize_t
io_read_full(int fd, void *p, size_t n)
{
	unsigned char *c = p;
	size_t done = 0;
	ssize_t r;

	while (done < n) {
		r = io_read_some(fd, c + done, n - done);
		if (r == -1) {
			return -1;
		}
		if (r == 0) {
			break;
		}
		done += (size_t)r;
	}
	return (ssize_t)done;
}

/*
 * One write that never blocks.  POLLOUT only promises room for some
 * bytes: a blocking write of a whole SFTP packet into a peer that has
 * stopped reading would wait forever, past any --timeout.  Sockets take
 * MSG_DONTWAIT; a pipe is made non-blocking for this one call (our end
 * only: the flag lives in our open file description).
 */
static ssize_t
write_nowait(int fd, const void *p, size_t n)
{
	ssize_t r;
	int fl, saved;

	r = send(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (r != -1 || errno != ENOTSOCK) {
		return r;
	}
	if ((fl = fcntl(fd, F_GETFL)) == -1 || (fl & O_NONBLOCK) != 0 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1) {
		return write(fd, p, n);
	}
	r = write(fd, p, n);
	saved = errno;
	(void)fcntl(fd, F_SETFL, fl);
	errno = saved;
	return r;
}

int
io_write_full(int fd, const void *p, size_t n)
{
	const unsigned char *c = p;
	size_t done = 0;
	ssize_t r;

	while (done < n) {
		/*
		 * A signal that lands after part of a blocking write has gone
		 * out ends the write with a short count, not EINTR: without
		 * this check the rest would block again.
		 */
		if (done > 0 && io_cancelled()) {
			errno = EINTR;
			return -1;
		}
		if (io_timeout > 0) {
			if (io_wait(fd, POLLOUT) == -1) {
				return -1;
			}
			r = write_nowait(fd, c + done, n - done);
		} else {
			r = write(fd, c + done, n - done);
		}
		if (r > 0) {
			done += (size_t)r;
			continue;
		}
		if (r == 0) {
			errno = EPIPE;
			return -1;
		}
		if (errno == EINTR) {
			if (io_cancelled()) {
				return -1;
			}
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (io_wait(fd, POLLOUT) == -1) {
				return -1;
			}
			continue;
		}
		return -1;
	}
	return 0;
}
