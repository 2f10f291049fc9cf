/*
 * Watching an ssh child's stderr for the server's refusal of the sftp
 * subsystem, for the automatic legacy fallback (run_sftp.c, issue 16).
 * What the signal is, and why, is in run.h above struct ssh_tap.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "../transport/io.h"
#include "run.h"

/* How long ssh_tap_refused() waits for every writer to have gone. */
#define SSH_TAP_SETTLE_MS	2000
/* Longest line kept for matching; the rest of a long line is only
 * forwarded. */
#define SSH_TAP_LINE		512

struct ssh_tap {
	int rfd;		/* the pipe's read end; the thread's */
	int out;		/* where the bytes go: the real stderr */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refused;		/* a refusal line was seen */
	int eof;		/* every writer closed the pipe */
	int refs;		/* the thread and the caller */
	char line[SSH_TAP_LINE];
	size_t len;
};

/* The real stderr, dup'ed once (CLOEXEC): the taps write there while
 * fd 2 is a pipe for a moment. */
static int tap_stderr = -1;

/*
 * Whether `line` is the server saying it has no sftp subsystem.
 * Measured with OpenSSH 9.2's ssh (see run.h):
 *   sshd without "Subsystem sftp": "subsystem request failed on channel
 *       N", ssh exits 255 (the line is ssh's own; not printed under -q);
 *   Dropbear (or sshd) whose sftp-server is missing: the remote shell's
 *       "sh: 1: /usr/lib/sftp-server: not found" (bash: "...: No such
 *       file or directory"), ssh exits 127 (the server's stderr, also
 *       under -q).
 */
static int
tap_line_refused(const char *line)
{
	if (strstr(line, "subsystem request failed on channel") != NULL) {
		return 1;
	}
	if (strstr(line, "sftp-server") != NULL &&
	    (strstr(line, "not found") != NULL ||
	    strcasestr(line, "no such file or directory") != NULL)) {
		return 1;
	}
	return 0;
}

/* Takes bytes of stderr into the line buffer; mu held. */
static void
tap_scan(struct ssh_tap *t, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\n') {
			t->line[t->len] = '\0';
			t->refused |= tap_line_refused(t->line);
			t->len = 0;
		} else if (t->len + 1 < sizeof(t->line)) {
			t->line[t->len++] = p[i];
		}
	}
}

static void
tap_unref(struct ssh_tap *t)
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

/* Forwards everything, unchanged, until every writer is gone. */
static void *
tap_thread(void *arg)
{
	struct ssh_tap *t = arg;
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
		(void)io_write_full(t->out, buf, (size_t)n);
		pthread_mutex_lock(&t->mu);
		tap_scan(t, buf, (size_t)n);
		if (t->refused) {
			pthread_cond_broadcast(&t->cv);
		}
		pthread_mutex_unlock(&t->mu);
	}
	close(t->rfd);
	pthread_mutex_lock(&t->mu);
	t->line[t->len] = '\0';
	t->refused |= tap_line_refused(t->line);
	t->eof = 1;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
	tap_unref(t);
	return NULL;
}

struct ssh_tap *
ssh_tap_begin(int *saved)
{
	struct ssh_tap *t;
	pthread_attr_t at;
	pthread_t th;
	int p[2];

	*saved = -1;
	if (tap_stderr == -1 &&
	    (tap_stderr = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3)) == -1) {
		return NULL;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		return NULL;
	}
	if (pipe2(p, O_CLOEXEC) == -1) {
		free(t);
		return NULL;
	}
	t->rfd = p[0];
	t->out = tap_stderr;
	t->refs = 2;
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
	if ((*saved = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3)) == -1 ||
	    dup2(p[1], STDERR_FILENO) == -1) {
		goto fail;
	}
	close(p[1]);
	p[1] = -1;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &at, tap_thread, t) != 0) {
		pthread_attr_destroy(&at);
		goto fail;
	}
	pthread_attr_destroy(&at);
	return t;
fail:
	if (*saved != -1) {
		(void)dup2(*saved, STDERR_FILENO);
		close(*saved);
		*saved = -1;
	}
	if (p[1] != -1) {
		close(p[1]);
	}
	close(p[0]);
	pthread_cond_destroy(&t->cv);
	pthread_mutex_destroy(&t->mu);
	free(t);
	return NULL;
}

void
ssh_tap_end(int saved)
{
	if (saved == -1) {
		return;
	}
	(void)dup2(saved, STDERR_FILENO);
	close(saved);
}

int
ssh_tap_refused(struct ssh_tap *t)
{
	struct timespec dl;
	int r;

	if (t == NULL) {
		return 0;
	}
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += SSH_TAP_SETTLE_MS / 1000;
	dl.tv_nsec += (long)(SSH_TAP_SETTLE_MS % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&t->mu);
	while (!t->eof && !t->refused) {
		if (pthread_cond_timedwait(&t->cv, &t->mu, &dl) != 0) {
			break;
		}
	}
	r = t->refused;
	pthread_mutex_unlock(&t->mu);
	return r;
}

void
ssh_tap_release(struct ssh_tap *t)
{
	if (t != NULL) {
		tap_unref(t);
	}
}
