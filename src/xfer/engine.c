/*
 * The job queue and its loop (engine.h): jobs start in walk order as
 * in-flight slots free up, endpoints are pumped for answers and polled
 * when none is buffered, and finished jobs retire from the head only.
 */
#include "engine.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../transport/io.h"
#include "../util/err.h"
#include "../util/log.h"
#include "../util/xmalloc.h"

#define XENG_MAX_EP	2

struct xeng {
	struct xep *ep[XENG_MAX_EP];
	size_t nep;
	struct xjob *head, *tail;
	struct xjob *cursor;	/* first job not started, or NULL */
	size_t nqueued, nactive;
	size_t max_active, max_queued;
	size_t errors;
	int fatal;		/* the first fatal code, or 0 */
	int dropped;		/* drop_all() ran */
};

struct xeng *
xeng_new(struct xep **ep, size_t nep, size_t max_active, size_t max_queued)
{
	struct xeng *g = xcalloc(1, sizeof(*g));
	size_t i;

	for (i = 0; i < nep && i < XENG_MAX_EP; i++) {
		g->ep[i] = ep[i];
	}
	g->nep = i;
	g->max_active = max_active > 0 ? max_active : 1;
	g->max_queued = max_queued > g->max_active ? max_queued :
	    g->max_active + 1;
	return g;
}

static void
job_free(struct xjob *j)
{
	strvec_clear(&j->msgs);
	j->ops->free(j);
}

void
xeng_free(struct xeng *g)
{
	struct xjob *j, *next;
	size_t i;

	if (g == NULL) {
		return;
	}
	/* Jobs still queued may own operations an endpoint holds. */
	for (i = 0; i < g->nep; i++) {
		if (xep_outstanding(g->ep[i]) > 0) {
			xep_forget(g->ep[i]);
		}
	}
	for (j = g->head; j != NULL; j = next) {
		next = j->next;
		job_free(j);
	}
	free(g);
}

void
xjob_init(struct xjob *j, const struct xjob_ops *ops, int active)
{
	memset(j, 0, sizeof(*j));
	j->ops = ops;
	j->active = active;
	strvec_init(&j->msgs);
}

/* Prints `j`'s messages, once. */
static void
job_say(struct xjob *j)
{
	size_t i;

	for (i = 0; i < j->msgs.n; i++) {
		log_error("%s", j->msgs.v[i]);
	}
	strvec_clear(&j->msgs);
}

void
xjob_finish(struct xjob *j, int failed)
{
	if (j->done) {
		return;
	}
	j->done = 1;
	j->failed = failed;
	if (j->active && j->started) {
		j->eng->nactive--;
	}
}

int
xjob_is_head(const struct xjob *j)
{
	return j->eng->head == j;
}

int
xjob_start_op(struct xjob *j, struct xep *e, struct xop *op)
{
	int r;

	if ((r = xep_start(e, op)) != 0 && j->eng->fatal == 0) {
		j->eng->fatal = r;
	}
	return r;
}

void
xjob_fatal(struct xjob *j, int code)
{
	if (j->eng->fatal == 0) {
		j->eng->fatal = code;
	}
}

int
xjob_fatal_code(const struct xjob *j)
{
	return j->eng != NULL ? j->eng->fatal : 0;
}

/* 1 if any endpoint has operations outstanding. */
static int
busy(const struct xeng *g)
{
	size_t i;

	for (i = 0; i < g->nep; i++) {
		if (xep_outstanding(g->ep[i]) > 0) {
			return 1;
		}
	}
	return 0;
}

/* 1 if barrier job `j` may not start yet. */
static int
barred(const struct xeng *g, const struct xjob *j)
{
	return g->head != j || busy(g);
}

/* Starts queued jobs while slots are free; 0 or the fatal code. */
static int
start_more(struct xeng *g)
{
	struct xjob *j;
	int r;

	while (g->fatal == 0 && (j = g->cursor) != NULL &&
	    (j->started || !j->active || g->nactive < g->max_active)) {
		if (!j->started && j->barrier && barred(g, j)) {
			break;
		}
		g->cursor = j->next;
		if (j->started) {
			/* Passed before jobs were inserted ahead of it. */
			continue;
		}
		j->started = 1;
		if (j->active) {
			g->nactive++;
		}
		if ((r = j->ops->start(j)) != 0 && g->fatal == 0) {
			g->fatal = r;
		}
	}
	return g->fatal;
}

/* Prints and frees finished jobs at the head. */
static void
retire(struct xeng *g)
{
	struct xjob *j;

	while ((j = g->head) != NULL && g->fatal == 0) {
		if (j->ops->head != NULL) {
			j->ops->head(j);
		}
		if (!j->done) {
			break;
		}
		job_say(j);
		if (j->failed) {
			g->errors++;
		}
		g->head = j->next;
		if (g->head == NULL) {
			g->tail = NULL;
		}
		g->nqueued--;
		job_free(j);
	}
}

/* Completes what has arrived; the number completed or a fatal code. */
static int
pump(struct xeng *g)
{
	size_t i;
	int r, n = 0;

	for (i = 0; i < g->nep && g->fatal == 0; i++) {
		if (xep_outstanding(g->ep[i]) == 0) {
			continue;
		}
		if ((r = xep_pump(g->ep[i])) < 0) {
			g->fatal = r;
		} else {
			n += r;
		}
	}
	return g->fatal != 0 ? g->fatal : n;
}

/* Waits for an answer on any endpoint (--timeout honoured). */
static int
wait_any(struct xeng *g)
{
	struct pollfd pfd[XENG_MAX_EP];
	unsigned int tmo = io_get_timeout();
	size_t i, n = 0;
	int r, fd;

	for (i = 0; i < g->nep; i++) {
		if (xep_ready(g->ep[i])) {
			/* Completions are due: the next pump runs them. */
			return 0;
		}
	}
	for (i = 0; i < g->nep; i++) {
		if ((r = xep_prepare_wait(g->ep[i], &fd)) != 0) {
			return g->fatal = r;
		}
		if (fd >= 0) {
			pfd[n].fd = fd;
			pfd[n].events = POLLIN;
			pfd[n].revents = 0;
			n++;
		}
	}
	if (n == 0) {
		/* Jobs wait and nothing is in flight: a bug, not a hang. */
		log_error("internal error: transfer stalled");
		return g->fatal = SCP_E_FATAL;
	}
	r = poll(pfd, n, tmo > 0 ? (int)(tmo * 1000) : -1);
	if (r == -1 && errno != EINTR && errno != EAGAIN) {
		log_error("poll: %s", strerror(errno));
		return g->fatal = SCP_E_SYS;
	}
	if (r == 0) {
		log_error("Couldn't read packet: %s", strerror(ETIMEDOUT));
		return g->fatal = SCP_E_TIMEOUT;
	}
	return 0;
}

/*
 * One round: start, pump, retire; waits when nothing moved.  0 or the
 * fatal code.
 */
static int
step(struct xeng *g)
{
	int r;

	if (io_cancelled()) {
		return g->fatal = SCP_E_INTR;
	}
	if (start_more(g) != 0) {
		return g->fatal;
	}
	retire(g);
	if ((r = pump(g)) < 0) {
		return r;
	}
	/* With every job retired, what an endpoint still finishes on its
	 * own (a listing's CLOSE) is waited for. */
	if (r > 0 || (g->head == NULL && !busy(g))) {
		retire(g);
		return g->fatal;
	}
	if (start_more(g) != 0) {
		return g->fatal;
	}
	retire(g);
	if ((g->head == NULL && !busy(g)) || g->fatal != 0) {
		return g->fatal;
	}
	if ((r = wait_any(g)) != 0) {
		return r;
	}
	if ((r = pump(g)) < 0) {
		return r;
	}
	retire(g);
	return g->fatal;
}

/*
 * The engine stopped: what finished before the first unfinished job is
 * reported in walk order, the first file that did not arrive is named
 * (as the download and upload queues do), the rest is dropped and the
 * endpoints forget what is outstanding.
 */
static void
drop_all(struct xeng *g)
{
	struct xjob *j;
	int inorder = 1, named = 0;
	size_t i;

	if (g->dropped) {
		return;
	}
	g->dropped = 1;
	for (j = g->head; j != NULL; j = j->next) {
		if (!j->done) {
			inorder = 0;
		}
		if (inorder) {
			job_say(j);
		} else if (!named && j->started && !j->done &&
		    j->ops->stopped != NULL) {
			named = j->ops->stopped(j, g->fatal);
		}
	}
	for (i = 0; i < g->nep; i++) {
		xep_forget(g->ep[i]);
	}
}

int
xeng_add(struct xeng *g, struct xjob *j)
{
	int r;

	j->eng = g;
	j->next = NULL;
	if (g->tail != NULL) {
		g->tail->next = j;
	} else {
		g->head = j;
	}
	g->tail = j;
	if (g->cursor == NULL) {
		g->cursor = j;
	}
	g->nqueued++;
	if (g->fatal != 0) {
		return g->fatal;
	}
	if (start_more(g) == 0) {
		retire(g);
	}
	while (g->fatal == 0 && g->nqueued >= g->max_queued) {
		(void)step(g);
	}
	if ((r = g->fatal) != 0) {
		drop_all(g);
	}
	return r;
}

void
xeng_insert(struct xeng *g, struct xjob *after, struct xjob *j)
{
	struct xjob *k;

	j->eng = g;
	j->next = after->next;
	after->next = j;
	if (g->tail == after) {
		g->tail = j;
	}
	g->nqueued++;
	if (g->cursor == NULL) {
		g->cursor = j;
		return;
	}
	if (!after->started) {
		/* At or after the cursor already. */
		return;
	}
	/* Every job before the cursor has started: if the cursor comes
	 * after `j`, `j` is the first not started. */
	for (k = j->next; k != NULL; k = k->next) {
		if (k == g->cursor) {
			g->cursor = j;
			return;
		}
	}
}

int
xeng_drain(struct xeng *g)
{
	int r;

	while (g->fatal == 0 && (g->head != NULL || busy(g))) {
		(void)step(g);
	}
	if ((r = g->fatal) != 0) {
		drop_all(g);
	}
	return r;
}

void
xeng_set_max_active(struct xeng *g, size_t max_active)
{
	g->max_active = max_active > 0 ? max_active : 1;
	if (g->max_queued <= g->max_active) {
		g->max_queued = g->max_active + 1;
	}
}

size_t
xeng_errors(const struct xeng *g)
{
	return g->errors;
}

/* ---- notes: a message in walk order ---- */

static int
note_start(struct xjob *j)
{
	xjob_finish(j, j->failed);
	return 0;
}

static void
note_free(struct xjob *j)
{
	free(j);
}

static const struct xjob_ops note_ops = {
	.start = note_start,
	.free = note_free,
};

static struct xjob *
note_new(int error, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static struct xjob *
note_new(int error, const char *fmt, va_list ap)
{
	struct xjob *j = xmalloc(sizeof(*j));
	char *m;

	xjob_init(j, &note_ops, 0);
	j->failed = error;
	m = xvasprintf(fmt, ap);
	strvec_push(&j->msgs, m);
	free(m);
	return j;
}

int
xeng_note(struct xeng *g, int error, const char *fmt, ...)
{
	struct xjob *j;
	va_list ap;

	va_start(ap, fmt);
	j = note_new(error, fmt, ap);
	va_end(ap);
	return xeng_add(g, j);
}

struct xjob *
xeng_note_after(struct xeng *g, struct xjob *after, int error,
    const char *fmt, ...)
{
	struct xjob *j;
	va_list ap;

	va_start(ap, fmt);
	j = note_new(error, fmt, ap);
	va_end(ap);
	xeng_insert(g, after, j);
	return j;
}
