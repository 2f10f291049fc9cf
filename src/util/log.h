/*
 * Diagnostics on stderr.  Every message is sanitised (sanitize.h) before
 * it is written, because file names and peer text end up in them.
 *
 * log_error() prints "scp: <msg>" (OpenSSH's error()/fatal() shape);
 * log_plain() prints "<msg>" alone (OpenSSH's run_err() local output);
 * log_debug*() print "debug1: <msg>" etc. when the level allows.
 * In remote (server) mode nothing but debug output is printed: errors go
 * to the peer instead, as OpenSSH's iamremote does.
 */
#ifndef SCP_UTIL_LOG_H
#define SCP_UTIL_LOG_H

enum log_level {
	LOG_QUIET = 0,
	LOG_ERROR,
	LOG_INFO,
	LOG_VERBOSE,
	LOG_DEBUG1,
	LOG_DEBUG2,
	LOG_DEBUG3,
};

/* `progname` is kept by pointer. */
void log_init(const char *progname, enum log_level level, int remote);
enum log_level log_get_level(void);
int log_is_remote(void);

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_plain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug2(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug3(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Where the log_* messages go: `fd`, or stderr for -1 (the default).
 * Returns the previous setting.  For a moment only (the caller owns
 * `fd` and sets -1 back before closing it): src/cli sends its messages
 * through a tap (transport/tap.h) while ssh's stderr goes there, so
 * both keep their order.  log_raw() always writes to stderr.
 */
int log_set_fd(int fd);

/* Raw, already-safe text to stderr (usage text), never sanitised. */
void log_raw(const char *s);

#endif
