/*
 * Full reads and writes on blocking or non-blocking descriptors.
 *
 * Both loop over short counts and EINTR, and poll on EAGAIN.  A signal
 * the program wants to act on (SIGINT, SIGTERM) sets the flag given to
 * io_set_cancel(); the loops check it on every EINTR and then fail with
 * errno EINTR.  With io_set_timeout(), a descriptor that makes no
 * progress for that many seconds fails the call with errno ETIMEDOUT.
 */
#ifndef SCP_TRANSPORT_IO_H
#define SCP_TRANSPORT_IO_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

/* `flag` must stay valid for the life of the process; NULL disables. */
void io_set_cancel(volatile sig_atomic_t *flag);
/* Non-zero if the cancel flag has been raised. */
int io_cancelled(void);
/* Seconds without progress before giving up; 0 (default) = never. */
void io_set_timeout(unsigned int seconds);
unsigned int io_get_timeout(void);

/*
 * Reads exactly `n` bytes unless end of file comes first.  Returns the
 * number of bytes read (less than `n` only at EOF) or -1 with errno set.
 */
ssize_t io_read_full(int fd, void *p, size_t n);

/*
 * Reads at most `n` bytes, at least one unless at EOF (returns 0).
 * -1 with errno on error.
 */
ssize_t io_read_some(int fd, void *p, size_t n);

/*
 * io_read_some over several buffers (readv): fills them in order with
 * what one read returns.  -1 with errno on error.
 */
ssize_t io_readv_some(int fd, const struct iovec *iov, int cnt);

/* Writes all `n` bytes.  Returns 0, or -1 with errno (EPIPE if the
 * reader is gone: SIGPIPE must be ignored by the program). */
int io_write_full(int fd, const void *p, size_t n);

/*
 * Waits until `fd` is readable (events POLLIN) or writable (POLLOUT),
 * honouring the cancel flag and timeout.  0 when ready, -1 with errno.
 */
int io_wait(int fd, short events);

#endif
