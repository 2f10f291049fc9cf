/*
 * A watched stderr for child processes (tap.h): a pipe and the thread
 * that forwards it.
 */
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "io.h"

struct tap {
	int rfd;		/* the pipe's read end; the thread's */
	int wfd;		/* its write end; the owner's, -1 closed */
	int out;		/* where the bytes go (borrowed) */
	int hold;		/* TAP_HOLD */
	tap_line_fn fn;
	void *ctx;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int matched;		/* a line matched (mu) */
	int eof;		/* every writer closed the pipe (mu) */
	int refs;		/* the thread and the owner (mu) */
	/* The thread's alone: */
	char line[TAP_LINE];
	size_t len;
	int overflow;		/* TAP_HOLD: passing a too long line on */
};

static void
tap_unref(struct tap *t)
{
	int last;

	pthread_mutex_lock(&t->mu);
	last = --t->refs == 0;
	pthread_mutex_unlock(&t->mu);
	if (last) {
		pthread_cond_destroy(&t->cv);
		pthread_mutex_destroy(&t->mu);
		free(t);
	}
}

/* Shows the held line to the callback; returns what it said. */
static int
tap_line_done(struct tap *t)
{
	int r;

	t->line[t->len] = '\0';
	r = t->fn(t->ctx, t->line, t->len);
	if (r & TAP_MATCH) {
		pthread_mutex_lock(&t->mu);
		t->matched = 1;
		pthread_cond_broadcast(&t->cv);
		pthread_mutex_unlock(&t->mu);
	}
	return r;
}

/* Bytes copied at once; lines only watched (cut at TAP_LINE - 1). */
static void
tap_scan(struct tap *t, const char *p, size_t n)
{
	size_t i;

	(void)io_write_full(t->out, p, n);
	for (i = 0; i < n; i++) {
		if (p[i] == '\n') {
			(void)tap_line_done(t);
			t->len = 0;
		} else if (t->len + 1 < sizeof(t->line)) {
			t->line[t->len++] = p[i];
		}
	}
}

/* TAP_HOLD: whole lines, after the callback; a line that does not fit
 * is shown cut, then forwarded as it comes. */
static void
tap_hold(struct tap *t, const char *p, size_t n)
{
	const char *nl;
	size_t i = 0, k;

	while (i < n) {
		if (t->overflow) {
			nl = memchr(p + i, '\n', n - i);
			k = nl != NULL ? (size_t)(nl - (p + i)) + 1 : n - i;
			(void)io_write_full(t->out, p + i, k);
			i += k;
			t->overflow = nl == NULL;
			continue;
		}
		if (p[i] == '\n') {
			if (!(tap_line_done(t) & TAP_DROP)) {
				t->line[t->len++] = '\n';
				(void)io_write_full(t->out, t->line, t->len);
			}
			t->len = 0;
		} else if (t->len + 1 < sizeof(t->line)) {
			t->line[t->len++] = p[i];
		} else {
			(void)tap_line_done(t);
			(void)io_write_full(t->out, t->line, t->len);
			t->len = 0;
			t->overflow = 1;
			continue;	/* p[i] goes on unseen */
		}
		i++;
	}
}

/* Forwards everything until every writer is gone. */
static void *
tap_thread(void *arg)
{
	struct tap *t = arg;
	char buf[4096];
	ssize_t n;

	for (;;) {
		n = read(t->rfd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			break;
		}
		if (t->hold) {
			tap_hold(t, buf, (size_t)n);
		} else {
			tap_scan(t, buf, (size_t)n);
		}
	}
	close(t->rfd);
	/* A last line without '\n'. */
	if (t->len > 0 && !(tap_line_done(t) & TAP_DROP) && t->hold) {
		(void)io_write_full(t->out, t->line, t->len);
	}
	pthread_mutex_lock(&t->mu);
	t->eof = 1;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
	tap_unref(t);
	return NULL;
}

int
tap_open(struct tap **tp, int out, int flags, tap_line_fn fn, void *ctx)
{
	struct tap *t;
	pthread_condattr_t ca;
	pthread_attr_t at;
	pthread_t th;
	sigset_t all, old;
	int p[2], r, saved;

	*tp = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		return -1;
	}
	if (pipe2(p, O_CLOEXEC) == -1) {
		saved = errno;
		free(t);
		errno = saved;
		return -1;
	}
	t->rfd = p[0];
	t->wfd = p[1];
	t->out = out;
	t->hold = (flags & TAP_HOLD) != 0;
	t->fn = fn;
	t->ctx = ctx;
	t->refs = 2;
	pthread_mutex_init(&t->mu, NULL);
	/* tap_wait's deadline must not move with the wall clock. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	/* The thread inherits the mask: no signal handler runs on it (the
	 * io loops must see EINTR), as for pool.c's threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&th, &at, tap_thread, t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&at);
	if (r != 0) {
		close(p[0]);
		close(p[1]);
		pthread_cond_destroy(&t->cv);
		pthread_mutex_destroy(&t->mu);
		free(t);
		errno = r;
		return -1;
	}
	*tp = t;
	return 0;
}

int
tap_fd(const struct tap *t)
{
	return t->wfd;
}

void
tap_close_writer(struct tap *t)
{
	if (t->wfd != -1) {
		close(t->wfd);
		t->wfd = -1;
	}
}

int
tap_wait(struct tap *t, int ms)
{
	struct timespec dl;
	int r;

	if (t == NULL) {
		return 0;
	}
	tap_close_writer(t);
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += ms / 1000;
	dl.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&t->mu);
	while (!t->eof && !t->matched) {
		if (pthread_cond_timedwait(&t->cv, &t->mu, &dl) != 0) {
			break;
		}
	}
	r = t->matched;
	pthread_mutex_unlock(&t->mu);
	return r;
}

void
tap_release(struct tap *t)
{
	if (t != NULL) {
		tap_close_writer(t);
		tap_unref(t);
	}
}
