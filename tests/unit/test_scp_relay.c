/* Unit tests for src/proto/scp/relay.c: the -3 relay's watch and the
 * relay itself over socketpairs (PROTOCOL.md section 2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "proto/scp/relay.h"

struct msgs {
	char text[8][SCP_RELAY_LINE];
	int n;
};

static void
collect(void *ctx, const char *text)
{
	struct msgs *m = ctx;

	if (m->n < 8) {
		snprintf(m->text[m->n], sizeof(m->text[0]), "%s", text);
	}
	m->n++;
}

static void
feed(struct scp_relay_watch *w, int sink, const char *p, size_t n)
{
	scp_relay_watch_feed(w, sink, (const unsigned char *)p, n);
}

/* A string literal without its NUL; "\0" alone is the one NUL byte. */
#define FEED(w, sink, lit) \
	feed((w), (sink), (lit), sizeof(lit) > 1 ? sizeof(lit) - 1 : 1)

/* A copy whose data holds \001 and newlines: no message comes of it,
 * and the errors of both sides are seen in order. */
static void
test_watch_stream(void **state)
{
	struct scp_relay_watch w;
	struct msgs m;

	(void)state;
	memset(&m, 0, sizeof(m));
	scp_relay_watch_init(&w, collect, &m);
	FEED(&w, 1, "\0");
	FEED(&w, 0, "T1 0 2 0\n");
	FEED(&w, 1, "\0");
	FEED(&w, 0, "C0644 6 a\n");
	FEED(&w, 1, "\0");
	FEED(&w, 0, "\001x\nyz\n");	/* the data */
	FEED(&w, 0, "\0");
	FEED(&w, 1, "\0");
	/* The sink refuses b: no data follows its record. */
	FEED(&w, 0, "C0644 3 b\n");
	FEED(&w, 1, "\001scp: b: Permission denied\n");
	FEED(&w, 0, "\001scp: c: No such file or directory\n");
	/* A read error after the data of d. */
	FEED(&w, 0, "C0600 2 d\n");
	FEED(&w, 1, "\0");
	FEED(&w, 0, "\n\n\001scp: d: read error\n");
	FEED(&w, 1, "\0");
	FEED(&w, 0, "E\n");
	FEED(&w, 1, "\0");
	assert_int_equal(m.n, 3);
	assert_int_equal(w.errs, 3);
	assert_string_equal(m.text[0], "scp: b: Permission denied");
	assert_string_equal(m.text[1], "scp: c: No such file or directory");
	assert_string_equal(m.text[2], "scp: d: read error");
}

/* Bytes cut anywhere give the same result; a line too long for the
 * watch ends its watching without a false message. */
static void
test_watch_cuts(void **state)
{
	static const char src[] = "C0644 4 f\n\001\001\001\0"
	    "\001scp: g: No such file or directory\n";
	struct scp_relay_watch w;
	struct msgs m;
	char *big;
	size_t i;

	(void)state;
	memset(&m, 0, sizeof(m));
	scp_relay_watch_init(&w, collect, &m);
	feed(&w, 1, "\0", 1);
	for (i = 0; i < 10; i++) {
		feed(&w, 0, src + i, 1);
	}
	feed(&w, 1, "\0", 1);
	for (i = 10; i < sizeof(src) - 1; i++) {
		feed(&w, 0, src + i, 1);
	}
	assert_int_equal(m.n, 1);
	assert_string_equal(m.text[0], "scp: g: No such file or directory");

	memset(&m, 0, sizeof(m));
	scp_relay_watch_init(&w, collect, &m);
	big = malloc(3 * SCP_RELAY_LINE);
	assert_non_null(big);
	memset(big, 'x', 3 * SCP_RELAY_LINE);
	big[0] = 'C';
	feed(&w, 0, big, 3 * SCP_RELAY_LINE);
	feed(&w, 0, "\n\001scp: no\n", 10);
	assert_int_equal(m.n, 0);
	free(big);
}

/*
 * One end of a relayed copy: the sink (`sink` 1) answers first, one
 * byte per record; the source waits for each answer, then sends up to
 * the next record.  Returns 0 when it received `want` exactly.
 */
static int
peer(int fd, int is_sink, const char *out, size_t nout, const char *want,
    size_t nwant)
{
	char got[256], c;
	size_t k = 0, i;
	ssize_t n;

	if (is_sink) {
		for (i = 0; i < nout; i++) {
			if (write(fd, out + i, 1) != 1) {
				return 1;
			}
			/* Each answer after a record (or the data) came. */
			while (i + 1 < nout && k < nwant &&
			    (n = read(fd, got + k, 1)) == 1) {
				k++;
				if (got[k - 1] == '\n' || got[k - 1] == '\0') {
					break;
				}
			}
		}
	} else {
		for (i = 0; i < nout; i++) {
			if (i == 0 || out[i - 1] == '\n' ||
			    out[i - 1] == '\0') {
				if (read(fd, &c, 1) != 1 || k >= sizeof(got)) {
					return 3;
				}
				got[k++] = c;
			}
			if (write(fd, out + i, 1) != 1) {
				return 1;
			}
		}
	}
	shutdown(fd, SHUT_WR);
	while (k < sizeof(got) && (n = read(fd, got + k, 1)) == 1) {
		k++;
	}
	return k == nwant && memcmp(got, want, k) == 0 ? 0 : 2;
}

/* The relay passes every byte unchanged both ways and ends when both
 * sides closed; the watch sees the error the source sent. */
static void
test_relay_run(void **state)
{
	static const char from_src[] = "C0644 3 a\nabc\0"
	    "\001scp: z: No such file or directory\n";
	static const char from_sink[] = "\0\0\0";
	struct scp_relay_watch w;
	struct msgs m;
	int a[2], b[2], st;
	pid_t src, sink;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
	/* Each peer sends its part in the protocol's lockstep and checks
	 * that it got the other's bytes whole. */
	sink = fork();
	assert_true(sink >= 0);
	if (sink == 0) {
		close(a[0]);
		close(a[1]);
		close(b[0]);
		_exit(peer(b[1], 1, from_sink, sizeof(from_sink) - 1,
		    from_src, sizeof(from_src) - 1));
	}
	src = fork();
	assert_true(src >= 0);
	if (src == 0) {
		close(a[0]);
		close(b[0]);
		close(b[1]);
		_exit(peer(a[1], 0, from_src, sizeof(from_src) - 1,
		    from_sink, sizeof(from_sink) - 1));
	}
	close(a[1]);
	close(b[1]);
	memset(&m, 0, sizeof(m));
	scp_relay_watch_init(&w, collect, &m);
	assert_int_equal(scp_relay_run(a[0], b[0], 5, &w), 0);
	assert_int_equal(waitpid(sink, &st, 0), sink);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(waitpid(src, &st, 0), src);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(m.n, 1);
	assert_string_equal(m.text[0], "scp: z: No such file or directory");
	close(a[0]);
	close(b[0]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_watch_stream),
		cmocka_unit_test(test_watch_cuts),
		cmocka_unit_test(test_relay_run),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
