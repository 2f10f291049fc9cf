/* Unit tests for src/transport/tap.c: what reaches `out`, what the
 * callback sees, and tap_wait()'s answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "transport/tap.h"

/* What the callback saw, for the test to wait on (the thread is done
 * with its input once it saw the last line, "END" without '\n'). */
static struct {
	_Atomic int seen;
	_Atomic int end;
} cbs;

/* Matches lines holding "MATCH"; drops those ending in '\r'. */
static int
cb(void *ctx, const char *line, size_t len)
{
	int r = 0;

	(void)ctx;
	cbs.seen++;
	assert_int_equal(strlen(line), len);
	if (strcmp(line, "END") == 0) {
		cbs.end = 1;
	}
	if (strstr(line, "MATCH") != NULL) {
		r |= TAP_MATCH;
	}
	if (len > 0 && line[len - 1] == '\r') {
		r |= TAP_DROP;
	}
	return r;
}

/* Writes `in` (ending in "END") through a tap with `flags`; returns
 * what reached `out` (caller frees), tap_wait()'s answer in *matched and
 * how many lines the callback saw in *seen. */
static char *
run(int flags, const char *in, size_t n, int *matched, int *seen)
{
	static char outbuf[3 * TAP_LINE * 2];
	struct tap *t;
	size_t got = 0;
	ssize_t r;
	int p[2], tries;

	assert_int_equal(pipe(p), 0);
	cbs.seen = 0;
	cbs.end = 0;
	assert_int_equal(tap_open(&t, p[1], flags, cb, NULL), 0);
	assert_int_equal(write(tap_fd(t), in, n), (ssize_t)n);
	*matched = tap_wait(t, 5000);
	assert_int_equal(tap_fd(t), -1);
	tap_release(t);
	/* "END" is the last thing forwarded, and its callback the last
	 * one. */
	while (got < 3 || memcmp(outbuf + got - 3, "END", 3) != 0) {
		r = read(p[0], outbuf + got, sizeof(outbuf) - 1 - got);
		assert_true(r > 0);
		got += (size_t)r;
	}
	for (tries = 0; !cbs.end && tries < 5000; tries++) {
		usleep(1000);
	}
	assert_true(cbs.end);
	*seen = cbs.seen;
	close(p[0]);
	close(p[1]);
	outbuf[got] = '\0';
	return strdup(outbuf);
}

static void
test_plain(void **state)
{
	static const char in[] = "one\r\nMATCH two\nEND";
	int m, seen;
	char *out;

	(void)state;
	out = run(0, in, strlen(in), &m, &seen);
	assert_string_equal(out, in);	/* everything, drop or not */
	assert_int_equal(m, 1);
	assert_int_equal(seen, 3);
	free(out);
	out = run(0, "a\nb\nEND", 7, &m, &seen);
	assert_string_equal(out, "a\nb\nEND");
	assert_int_equal(m, 0);
	free(out);
}

static void
test_hold(void **state)
{
	static const char in[] = "ssh says\r\nserver says\nMATCH\r\nEND";
	int m, seen;
	char *out;

	(void)state;
	out = run(TAP_HOLD, in, strlen(in), &m, &seen);
	assert_string_equal(out, "server says\nEND");
	assert_int_equal(m, 1);
	assert_int_equal(seen, 4);
	free(out);
}

/* A line longer than TAP_LINE is shown cut, then forwarded whole. */
static void
test_hold_long(void **state)
{
	char in[TAP_LINE * 2 + 18];
	int m, seen;
	char *out;

	(void)state;
	memset(in, 'x', sizeof(in));
	memcpy(in, "MATCH", 5);
	in[sizeof(in) - 5] = '\r';
	in[sizeof(in) - 4] = '\n';
	memcpy(in + sizeof(in) - 3, "END", 3);
	out = run(TAP_HOLD, in, sizeof(in), &m, &seen);
	assert_int_equal(strlen(out), sizeof(in));
	assert_memory_equal(out, in, sizeof(in));
	assert_int_equal(m, 1);
	assert_int_equal(seen, 2);	/* the cut line, then "END" */
	free(out);
}

/* A writer still open: tap_wait() gives up after its time. */
static void
test_wait_timeout(void **state)
{
	struct tap *t;
	int p[2], w;

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(tap_open(&t, p[1], 0, cb, NULL), 0);
	w = dup(tap_fd(t));		/* as a child would hold it */
	assert_int_equal(tap_wait(t, 100), 0);
	assert_int_equal(write(w, "MATCH\n", 6), 6);
	assert_int_equal(tap_wait(t, 5000), 1);
	close(w);
	tap_release(t);
	assert_int_equal(tap_wait(NULL, 0), 0);
	tap_release(NULL);
	close(p[0]);
	/* p[1] stays open: the thread may still write the line there. */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_hold),
		cmocka_unit_test(test_hold_long),
		cmocka_unit_test(test_wait_timeout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
