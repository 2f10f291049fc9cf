/*
 * The -l limiter, as OpenSSH's misc.c bandwidth_limit() (PROTOCOL.md
 * section 5): the first call only starts the clock; once `thresh` bytes
 * have been counted, sleep until they fit the rate, then adapt the
 * threshold so that sleeps stay between 10 ms and 1 s.
 *
 * util may not include transport/io.h, so the sleep cannot look at the
 * cancel flag itself.  Instead a signal that interrupts nanosleep ends
 * the sleep at once, and the time still owed is carried into the next
 * interval (the clock restarts in the future), so the caller gets to
 * check its cancel flag promptly while the average rate still holds.
 */
#include "bwlimit.h"

#include <errno.h>
#include <string.h>

#define NSEC	1000000000LL

static int64_t
bw_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * NSEC + ts->tv_nsec;
}

static void
bw_set_ns(struct timespec *ts, int64_t ns)
{
	ts->tv_sec = (time_t)(ns / NSEC);
	ts->tv_nsec = (long)(ns % NSEC);
}

static int64_t
bw_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return bw_ns(&ts);
}

void
bwlimit_init(struct bwlimit *bw, uint64_t kbits, size_t buflen)
{
	memset(bw, 0, sizeof(*bw));
	/* -l is at most 104857600 (section 1): no overflow here. */
	bw->rate = kbits * 1024;
	bw->buflen = buflen;
	bw->thresh = buflen;
}

void
bwlimit_account(struct bwlimit *bw, size_t n)
{
	struct timespec ts, rem;
	int64_t now, elapsed, expected, sleep_ns;
	double want;

	if (bw->rate == 0) {
		return;
	}
	bw->lamt += n;
	if (bw->start.tv_sec == 0 && bw->start.tv_nsec == 0) {
		bw_set_ns(&bw->start, bw_now());
		return;
	}
	if (bw->lamt < bw->thresh) {
		return;
	}
	now = bw_now();
	elapsed = now - bw_ns(&bw->start);
	if (elapsed == 0) {
		return;
	}
	/* In double, as OpenSSH: lamt * 8e9 overflows 64 bits early. */
	want = (double)bw->lamt * 8.0 * (double)NSEC / (double)bw->rate;
	expected = want > 1e18 ? (int64_t)1e18 : (int64_t)want;
	sleep_ns = 0;
	if (expected > elapsed) {
		sleep_ns = expected - elapsed;
		if (sleep_ns >= NSEC) {
			bw->thresh /= 2;
			if (bw->thresh < bw->buflen / 4) {
				bw->thresh = bw->buflen / 4;
			}
		} else if (sleep_ns < NSEC / 100) {
			bw->thresh *= 2;
			if (bw->thresh > bw->buflen * 8) {
				bw->thresh = bw->buflen * 8;
			}
		}
		/* The threshold must stay positive or every call sleeps. */
		if (bw->thresh == 0) {
			bw->thresh = 1;
		}
		bw_set_ns(&ts, sleep_ns);
		if (nanosleep(&ts, &rem) == -1 && errno == EINTR) {
			/* Owe the rest: start the next interval late. */
			bw->lamt = 0;
			bw_set_ns(&bw->start, bw_now() + bw_ns(&rem));
			return;
		}
	}
	bw->lamt = 0;
	bw_set_ns(&bw->start, bw_now());
}
