/*
 * How the legacy engine uses the wire (PROTOCOL.md section 2): the
 * source's writes as the peer sees them (a SOCK_SEQPACKET socketpair
 * keeps each write a message of its own), and a sink fed by a source
 * that splits and joins its writes differently from ours.  The byte
 * stream is the protocol's either way; these pin down the write and
 * read pattern that keeps the per-file cost low.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proto/scp/scp.h"
#include "util/err.h"

static char top[64];

static int
setup(void **state)
{
	(void)state;
	snprintf(top, sizeof(top), "/tmp/test_scp_wire.XXXXXX");
	assert_non_null(mkdtemp(top));
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	return system(cmd) == 0 ? 0 : -1;
}

static char *
pathf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
pathf(const char *fmt, ...)
{
	static char bufs[4][256];
	static int next;
	char *b = bufs[next++ % 4];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(b, sizeof(bufs[0]), fmt, ap);
	va_end(ap);
	return b;
}

static void
put(const char *path, const void *data, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	assert_int_equal(fchmod(fd, 0644), 0);
	close(fd);
}

/* The whole file, or NULL; *n its length. */
static unsigned char *
slurp(const char *path, size_t *n)
{
	struct stat st;
	unsigned char *p;
	int fd = open(path, O_RDONLY);

	if (fd == -1) {
		return NULL;
	}
	assert_int_equal(fstat(fd, &st), 0);
	p = malloc((size_t)st.st_size + 1);
	assert_non_null(p);
	assert_int_equal(read(fd, p, (size_t)st.st_size), st.st_size);
	close(fd);
	*n = (size_t)st.st_size;
	return p;
}

/* Forks scp_source_send(path) on one end of a SOCK_SEQPACKET pair. */
static pid_t
start_source(const struct scp_opts *o, const char *path, int *peer)
{
	struct scp_conn c;
	int sv[2], r;
	pid_t pid;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		scp_conn_init(&c, sv[1], sv[1], o);
		r = scp_source_start(&c);
		if (r == 0) {
			r = scp_source_send(&c, path);
		}
		_exit(r != 0 ? 100 : (c.errs > 99 ? 99 : c.errs));
	}
	close(sv[1]);
	*peer = sv[0];
	return pid;
}

static int
finish(pid_t pid)
{
	int st;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 200;
}

/* A small file: C record, then data and \0 status in one write. */
static void
test_source_status_rides_with_data(void **state)
{
	struct scp_opts o = { 0 };
	char msg[256];
	ssize_t n;
	int fd;
	pid_t pid;

	(void)state;
	put(pathf("%s/a", top), "hello", 5);
	pid = start_source(&o, pathf("%s/a", top), &fd);
	assert_int_equal(write(fd, "", 1), 1);
	n = read(fd, msg, sizeof(msg));
	assert_int_equal(n, 10);
	assert_memory_equal(msg, "C0644 5 a\n", 10);
	assert_int_equal(write(fd, "", 1), 1);
	n = read(fd, msg, sizeof(msg));
	assert_int_equal(n, 6);
	assert_memory_equal(msg, "hello\0", 6);
	assert_int_equal(write(fd, "", 1), 1);
	assert_int_equal(read(fd, msg, sizeof(msg)), 0);
	close(fd);
	assert_int_equal(finish(pid), 0);
}

/* An empty file has no data to carry the status: it goes alone. */
static void
test_source_empty_file(void **state)
{
	struct scp_opts o = { 0 };
	char msg[256];
	int fd;
	pid_t pid;

	(void)state;
	put(pathf("%s/e", top), "", 0);
	pid = start_source(&o, pathf("%s/e", top), &fd);
	assert_int_equal(write(fd, "", 1), 1);
	assert_int_equal(read(fd, msg, sizeof(msg)), 10);
	assert_memory_equal(msg, "C0644 0 e\n", 10);
	assert_int_equal(write(fd, "", 1), 1);
	assert_int_equal(read(fd, msg, sizeof(msg)), 1);
	assert_int_equal(msg[0], '\0');
	assert_int_equal(write(fd, "", 1), 1);
	assert_int_equal(read(fd, msg, sizeof(msg)), 0);
	close(fd);
	assert_int_equal(finish(pid), 0);
}

/*
 * A file of several blocks: blocks of at least 64 KiB (the status byte
 * riding with the last), the bytes of the file in order, \0 at the end.
 */
static void
test_source_blocks(void **state)
{
	struct scp_opts o = { 0 };
	enum { SIZE = 150001 };
	unsigned char *data, *msg;
	size_t got = 0, writes = 0;
	ssize_t n;
	int fd, i;
	pid_t pid;

	(void)state;
	data = malloc(SIZE);
	msg = malloc(2 * SIZE);
	assert_non_null(data);
	assert_non_null(msg);
	for (i = 0; i < SIZE; i++) {
		data[i] = (unsigned char)(i * 7 + i / 251);
	}
	put(pathf("%s/b", top), data, SIZE);
	pid = start_source(&o, pathf("%s/b", top), &fd);
	assert_int_equal(write(fd, "", 1), 1);
	n = read(fd, msg, 2 * SIZE);
	assert_int_equal(n, 15);
	assert_memory_equal(msg, "C0644 150001 b\n", 15);
	assert_int_equal(write(fd, "", 1), 1);
	while (got < SIZE + 1) {
		n = read(fd, msg + got, 2 * SIZE - got);
		assert_true(n > 0);
		got += (size_t)n;
		writes++;
	}
	assert_int_equal(got, SIZE + 1);
	assert_true(writes <= 3);
	assert_memory_equal(msg, data, SIZE);
	assert_int_equal(msg[SIZE], 0);
	assert_int_equal(write(fd, "", 1), 1);
	assert_int_equal(read(fd, msg, 16), 0);
	close(fd);
	assert_int_equal(finish(pid), 0);
	free(data);
	free(msg);
}

/* The sink refuses the C record: no data, no status. */
static void
test_source_refused(void **state)
{
	struct scp_opts o = { .remote = 1 };
	const char err[] = "\001scp: a: Permission denied\n";
	char msg[256];
	int fd;
	pid_t pid;

	(void)state;
	put(pathf("%s/a", top), "hello", 5);
	pid = start_source(&o, pathf("%s/a", top), &fd);
	assert_int_equal(write(fd, "", 1), 1);
	assert_int_equal(read(fd, msg, sizeof(msg)), 10);
	assert_int_equal(write(fd, err, sizeof(err) - 1),
	    (ssize_t)sizeof(err) - 1);
	assert_int_equal(read(fd, msg, sizeof(msg)), 0);
	close(fd);
	assert_int_equal(finish(pid), 1);
}

/*
 * A fake source that takes turns with the sink: writes one step, then
 * reads as many one-byte replies as the step asks for.
 */
struct step {
	const char *bytes;
	size_t n;
	int replies;		/* reply bytes of the sink to wait for */
};

static int
run_sink(const struct step *steps, const char *target,
    struct scp_conn *out)
{
	struct scp_opts o = { .recursive = 1 };
	struct scp_conn c;
	char b;
	int sv[2], st, r, i;
	pid_t pid;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		/* The sink's ready byte. */
		if (read(sv[1], &b, 1) != 1 || b != 0) {
			_exit(1);
		}
		for (; steps->bytes != NULL; steps++) {
			if (write(sv[1], steps->bytes, steps->n) !=
			    (ssize_t)steps->n) {
				_exit(2);
			}
			for (i = 0; i < steps->replies; i++) {
				if (read(sv[1], &b, 1) != 1 || b != 0) {
					_exit(3);
				}
			}
		}
		_exit(0);
	}
	close(sv[1]);
	scp_conn_init(&c, sv[0], sv[0], &o);
	r = scp_sink(&c, target, NULL);
	close(sv[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	if (out != NULL) {
		*out = c;
	}
	return r;
}

#define STEP(s, replies) { (s), sizeof(s) - 1, (replies) }

/* Data and status in one write, in several, and the status alone. */
static void
test_sink_split_and_joined(void **state)
{
	static const struct step steps[] = {
		STEP("C0644 5 a\n", 1),
		STEP("hello\0", 1),
		STEP("C0644 3 b\n", 1),
		STEP("x", 0),
		STEP("y", 0),
		STEP("z", 0),
		STEP("\0", 1),
		STEP("C0644 0 e\n", 1),
		STEP("\0", 1),
		/* Record, data, status and the next record in one go. */
		STEP("C0644 2 c\nhi\0C0644 4 d\n", 3),
		STEP("wxyz\0", 1),
		{ NULL, 0, 0 }
	};
	struct scp_conn c;
	unsigned char *p;
	size_t n;

	(void)state;
	assert_int_equal(run_sink(steps, top, &c), 0);
	assert_int_equal(c.errs, 0);
	assert_non_null(p = slurp(pathf("%s/a", top), &n));
	assert_int_equal(n, 5);
	assert_memory_equal(p, "hello", 5);
	free(p);
	assert_non_null(p = slurp(pathf("%s/b", top), &n));
	assert_int_equal(n, 3);
	assert_memory_equal(p, "xyz", 3);
	free(p);
	assert_non_null(p = slurp(pathf("%s/e", top), &n));
	assert_int_equal(n, 0);
	free(p);
	assert_non_null(p = slurp(pathf("%s/c", top), &n));
	assert_int_equal(n, 2);
	assert_memory_equal(p, "hi", 2);
	free(p);
	assert_non_null(p = slurp(pathf("%s/d", top), &n));
	assert_int_equal(n, 4);
	assert_memory_equal(p, "wxyz", 4);
	free(p);
}

/*
 * A \1 message in place of the status, arriving with the last data:
 * the copy is dropped, the error counted, the next file still arrives.
 */
static void
test_sink_error_status_with_data(void **state)
{
	static const struct step steps[] = {
		STEP("C0644 5 a\n", 1),
		STEP("hello\001scp: a: Input/output error\n", 1),
		STEP("C0644 2 b\n", 1),
		STEP("ok\0", 1),
		{ NULL, 0, 0 }
	};
	struct scp_conn c;
	unsigned char *p;
	size_t n;

	(void)state;
	assert_int_equal(run_sink(steps, top, &c), 0);
	assert_int_equal(c.errs, 1);
	assert_null(slurp(pathf("%s/a", top), &n));
	assert_non_null(p = slurp(pathf("%s/b", top), &n));
	assert_int_equal(n, 2);
	assert_memory_equal(p, "ok", 2);
	free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_source_status_rides_with_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_source_empty_file,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_source_blocks,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_source_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_sink_split_and_joined,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_sink_error_status_with_data, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
