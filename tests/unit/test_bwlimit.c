/*
 * Unit tests for src/util/bwlimit.c (PROTOCOL.md section 5): the rate
 * holds (lower bound on elapsed time only: a loaded machine is slower,
 * never faster), and the threshold adapts as OpenSSH's does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <signal.h>
#include <sys/time.h>
#include <time.h>

#include "util/bwlimit.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
test_init(void **state)
{
	struct bwlimit bw;

	(void)state;
	bwlimit_init(&bw, 1600, 16384);
	assert_int_equal(bw.rate, 1600 * 1024);
	assert_int_equal(bw.buflen, 16384);
	assert_int_equal(bw.thresh, 16384);
	assert_int_equal(bw.lamt, 0);
	assert_int_equal(bw.start.tv_sec, 0);
	assert_int_equal(bw.start.tv_nsec, 0);
}

/* -l 0: no accounting, no sleeping. */
static void
test_disabled(void **state)
{
	struct bwlimit bw;
	double t0;
	int i;

	(void)state;
	bwlimit_init(&bw, 0, 16384);
	t0 = now();
	for (i = 0; i < 10000; i++) {
		bwlimit_account(&bw, 1 << 20);
	}
	assert_true(now() - t0 < 0.5);
	assert_int_equal(bw.lamt, 0);
}

/* 256 KiB at -l 1024 (1 Mbit/s = 128 KiB/s) takes about 2 s. */
static void
test_rate(void **state)
{
	struct bwlimit bw;
	double t0, el;
	int i;

	(void)state;
	bwlimit_init(&bw, 1024, 16384);
	t0 = now();
	for (i = 0; i < 16; i++) {
		bwlimit_account(&bw, 16384);
	}
	el = now() - t0;
	print_message("256 KiB at 1 Mbit/s: %.3f s\n", el);
	assert_true(el >= 1.9);
	assert_true(el < 10.0);
}

/* The first call starts the clock but its bytes still count. */
static void
test_first_call(void **state)
{
	struct bwlimit bw;

	(void)state;
	bwlimit_init(&bw, 1024, 16384);
	bwlimit_account(&bw, 100);
	assert_true(bw.start.tv_sec != 0 || bw.start.tv_nsec != 0);
	assert_int_equal(bw.lamt, 100);
	/* Below the threshold: only counted. */
	bwlimit_account(&bw, 100);
	assert_int_equal(bw.lamt, 200);
}

/* A sleep under 10 ms doubles the threshold, up to 8 * buflen. */
static void
test_thresh_grows(void **state)
{
	struct bwlimit bw;
	int i;

	(void)state;
	/* 100 Mbit/s: 32 KiB is 2.5 ms of budget. */
	bwlimit_init(&bw, 100 * 1024, 16384);
	bwlimit_account(&bw, 16384);
	bwlimit_account(&bw, 16384);
	assert_int_equal(bw.thresh, 32768);
	assert_int_equal(bw.lamt, 0);
	for (i = 0; i < 8; i++) {
		bwlimit_account(&bw, 4096);
	}
	assert_int_equal(bw.thresh, 65536);
	/* 8 * buflen at most, however often it doubles. */
	bw.thresh = 8 * 16384;
	bw.lamt = 0;
	clock_gettime(CLOCK_MONOTONIC, &bw.start);
	bwlimit_account(&bw, 1024);
	assert_int_equal(bw.thresh, 8 * 16384);
}

/* A sleep of a second or more halves it, down to buflen / 4. */
static void
test_thresh_shrinks(void **state)
{
	struct bwlimit bw;
	double t0;

	(void)state;
	/* 64 Kbit/s = 8 KiB/s: 12 KiB owed is a 1.5 s sleep. */
	bwlimit_init(&bw, 64, 4096);
	t0 = now();
	bwlimit_account(&bw, 4096);
	bwlimit_account(&bw, 8192);
	assert_true(now() - t0 >= 1.4);
	assert_int_equal(bw.thresh, 2048);
	/* Already at the floor: stays at buflen / 4. */
	bw.thresh = 1024;
	bw.lamt = 0;
	clock_gettime(CLOCK_MONOTONIC, &bw.start);
	/* 16 KiB is 2 s of budget; with 1 s already spent, a 1 s sleep. */
	bw.start.tv_sec -= 1;
	bwlimit_account(&bw, 16384);
	assert_int_equal(bw.thresh, 1024);
}

static void
on_alarm(int sig)
{
	(void)sig;
}

/*
 * A signal cuts the sleep short so the caller can look at its cancel
 * flag; the unslept time is owed by the next interval.
 */
static void
test_signal_interrupts(void **state)
{
	struct bwlimit bw;
	struct sigaction sa;
	struct itimerval it;
	double t0, el;

	(void)state;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
	memset(&it, 0, sizeof(it));
	it.it_value.tv_usec = 200000;
	assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);

	/* 8 Kbit/s: 4 KiB owed is a 4 s sleep, cut at 0.2 s. */
	bwlimit_init(&bw, 8, 4096);
	t0 = now();
	bwlimit_account(&bw, 2048);
	bwlimit_account(&bw, 2048);
	el = now() - t0;
	assert_true(el < 2.0);
	assert_int_equal(bw.lamt, 0);
	/* The clock restarts in the future by what is still owed. */
	{
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		assert_true(bw.start.tv_sec > ts.tv_sec + 1);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init),
		cmocka_unit_test(test_disabled),
		cmocka_unit_test(test_first_call),
		cmocka_unit_test(test_thresh_grows),
		cmocka_unit_test(test_thresh_shrinks),
		cmocka_unit_test(test_signal_interrupts),
		cmocka_unit_test(test_rate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
