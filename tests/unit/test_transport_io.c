/*
 * Unit tests for src/transport/io.c: --timeout bounds a peer that stops
 * reading or writing, also for writes far larger than the socket or pipe
 * buffer (an SFTP WRITE packet), and the cancel flag ends a wait.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "transport/io.h"

#define BIG	(4 * 1024 * 1024)

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A write of BIG bytes into `fd` whose reader never reads. */
static void
stalled_write(int fd)
{
	unsigned char *p = calloc(1, BIG);
	double t0;
	int r;

	assert_non_null(p);
	io_set_timeout(1);
	t0 = now();
	r = io_write_full(fd, p, BIG);
	assert_int_equal(r, -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_true(now() - t0 < 5.0);
	io_set_timeout(0);
	free(p);
}

static void
test_write_timeout_socket(void **state)
{
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	stalled_write(sv[0]);
	/* The descriptor stays blocking for everyone else. */
	assert_int_equal(fcntl(sv[0], F_GETFL) & O_NONBLOCK, 0);
	close(sv[0]);
	close(sv[1]);
}

static void
test_write_timeout_pipe(void **state)
{
	int pv[2];

	(void)state;
	assert_int_equal(pipe(pv), 0);
	stalled_write(pv[1]);
	assert_int_equal(fcntl(pv[1], F_GETFL) & O_NONBLOCK, 0);
	close(pv[0]);
	close(pv[1]);
}

/* With a timeout, a big write to a reader that keeps reading completes. */
static void
test_write_timeout_progress(void **state)
{
	unsigned char *p = malloc(BIG), *q = malloc(BIG);
	size_t i;
	pid_t pid;
	int sv[2];

	(void)state;
	assert_non_null(p);
	assert_non_null(q);
	for (i = 0; i < BIG; i++) {
		p[i] = (unsigned char)(i * 7);
	}
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		close(sv[1]);
		io_set_timeout(2);
		_exit(io_write_full(sv[0], p, BIG) == 0 ? 0 : 1);
	}
	close(sv[0]);
	assert_int_equal(io_read_full(sv[1], q, BIG), BIG);
	assert_memory_equal(p, q, BIG);
	close(sv[1]);
	free(p);
	free(q);
}

static void
test_read_timeout(void **state)
{
	unsigned char c;
	double t0;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	io_set_timeout(1);
	t0 = now();
	assert_int_equal(io_read_full(sv[0], &c, 1), -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_true(now() - t0 < 5.0);
	io_set_timeout(0);
	close(sv[0]);
	close(sv[1]);
}

static volatile sig_atomic_t cancel;

static void
on_alarm(int sig)
{
	(void)sig;
	cancel = 1;
}

/* The cancel flag ends a blocked write even without a timeout. */
static void
test_write_cancel(void **state)
{
	struct sigaction sa;
	unsigned char *p = calloc(1, BIG);
	int sv[2];

	(void)state;
	assert_non_null(p);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	cancel = 0;
	io_set_cancel(&cancel);
	alarm(1);
	assert_int_equal(io_write_full(sv[0], p, BIG), -1);
	assert_int_equal(errno, EINTR);
	assert_true(io_cancelled());
	io_set_cancel(NULL);
	close(sv[0]);
	close(sv[1]);
	free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_timeout_socket),
		cmocka_unit_test(test_write_timeout_pipe),
		cmocka_unit_test(test_write_timeout_progress),
		cmocka_unit_test(test_read_timeout),
		cmocka_unit_test(test_write_cancel),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
