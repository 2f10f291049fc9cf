#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "report.h"
#include "sanitize.h"

static const char *log_progname = "scp";
static enum log_level log_level = LOG_INFO;
static int log_remote;
/* The pool's threads log while the caller may switch it: held across
 * each write, so once log_set_fd() returned no one writes to the old
 * descriptor (the caller may close it, and its number be reused). */
static pthread_mutex_t log_fd_mu = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = -1;

void
log_init(const char *progname, enum log_level level, int remote)
{
	if (progname != NULL) {
		log_progname = progname;
	}
	log_level = level;
	log_remote = remote;
}

int
log_set_fd(int fd)
{
	int old;

	pthread_mutex_lock(&log_fd_mu);
	old = log_fd;
	log_fd = fd;
	pthread_mutex_unlock(&log_fd_mu);
	return old;
}

enum log_level
log_get_level(void)
{
	return log_level;
}

int
log_is_remote(void)
{
	return log_remote;
}

static void log_emit(int err, const char *prefix, const char *fmt,
    va_list ap) __attribute__((format(printf, 3, 0)));

/*
 * One write(2) per message so lines from several processes don't mix.
 * `err`: an error line, which --json reports too (report.h); every line
 * first erases the total-progress line, which would garble it.
 */
static void
log_emit(int err, const char *prefix, const char *fmt, va_list ap)
{
	char raw[2048], safe[8192];
	size_t n, pl;
	int fd;

	/* Never true; it tells GCC's UBSan-instrumented flow analysis so. */
	if (fmt == NULL) {
		return;
	}
	vsnprintf(raw, sizeof(raw), fmt, ap);
	if (err) {
		report_message(raw);
	} else {
		report_clear();
	}
	pl = strlen(prefix);
	if (pl >= sizeof(safe) - 2) {
		return;
	}
	memcpy(safe, prefix, pl);
	sanitize_buf(safe + pl, sizeof(safe) - pl - 1, raw, strlen(raw));
	n = strlen(safe);
	safe[n++] = '\n';
	fflush(stdout);
	pthread_mutex_lock(&log_fd_mu);
	fd = log_fd != -1 ? log_fd : STDERR_FILENO;
	while (write(fd, safe, n) == -1) {
		break;
	}
	pthread_mutex_unlock(&log_fd_mu);
}

void
log_error(const char *fmt, ...)
{
	char prefix[64];
	va_list ap;

	if (log_remote || log_level < LOG_ERROR) {
		return;
	}
	snprintf(prefix, sizeof(prefix), "%s: ", log_progname);
	va_start(ap, fmt);
	log_emit(1, prefix, fmt, ap);
	va_end(ap);
}

void
log_plain(const char *fmt, ...)
{
	va_list ap;

	if (log_remote || log_level < LOG_ERROR) {
		return;
	}
	va_start(ap, fmt);
	log_emit(1, "", fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	if (log_remote || log_level < LOG_INFO) {
		return;
	}
	va_start(ap, fmt);
	log_emit(0, "", fmt, ap);
	va_end(ap);
}

#define LOG_DEBUG_FN(name, lvl, pfx)			\
void							\
name(const char *fmt, ...)				\
{							\
	va_list ap;					\
							\
	if (log_level < (lvl)) {			\
		return;					\
	}						\
	va_start(ap, fmt);				\
	log_emit(0, pfx, fmt, ap);				\
	va_end(ap);					\
}

LOG_DEBUG_FN(log_debug, LOG_DEBUG1, "debug1: ")
LOG_DEBUG_FN(log_debug2, LOG_DEBUG2, "debug2: ")
LOG_DEBUG_FN(log_debug3, LOG_DEBUG3, "debug3: ")

void
log_raw(const char *s)
{
	fputs(s, stderr);
	fflush(stderr);
}
