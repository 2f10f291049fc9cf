/*
 * The automatic legacy fallback's signal (issue 16; what it is and why
 * is in run.h above sftp_tap_open()): which ssh stderr lines are the
 * server refusing the sftp subsystem, which ones -q hides, and when a
 * connection is watched at all.  The pipe and its thread are
 * transport/tap.c's.
 */
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../transport/tap.h"
#include "run.h"
#include "sshargs.h"

/* How long ssh_tap_refused() waits for every writer to have gone. */
#define SSH_TAP_SETTLE_MS	2000

/* The real stderr, dup'ed once (CLOEXEC) for the taps' threads to
 * write to for the rest of the process's life. */
static int tap_stderr = -1;

/*
 * Whether `line` is the server saying it has no sftp subsystem.
 * Measured with OpenSSH 9.2's ssh (see run.h):
 *   sshd without "Subsystem sftp": "subsystem request failed on channel
 *       N", ssh exits 255 (ssh's own fatal(); under -q only because
 *       sshargs gives ssh -oLogLevel=FATAL instead of -q);
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

/* Everything is shown, as it comes. */
static int
tap_line_plain(void *ctx, const char *line, size_t len)
{
	(void)ctx;
	(void)len;
	return tap_line_refused(line) ? TAP_MATCH : 0;
}

/*
 * Under -q (sshargs_tap_quiet): ssh runs with LogLevel=FATAL rather than
 * -q, so that it still says "subsystem request failed"; what it says
 * beyond `ssh -q` is dropped here.  That is every line of ssh's own log:
 * OpenSSH's log.c ends each with "\r\n" (and at FATAL there is nothing
 * else of its own: the banner and keyboard-interactive texts need INFO,
 * prompts go to /dev/tty), while what the server writes on its stderr,
 * which `ssh -q` shows too, comes as the server wrote it ("\n").  Our
 * own messages pass through this tap while a pool opens (run_sftp.c)
 * and end in "\n" too.
 */
static int
tap_line_quiet(void *ctx, const char *line, size_t len)
{
	int r = tap_line_plain(ctx, line, len);

	if (len > 0 && line[len - 1] == '\r') {
		r |= TAP_DROP;
	}
	return r;
}

struct tap *
sftp_tap_open(const struct scp_options *o)
{
	struct tap *t;
	int quiet;

	if (!sshargs_tapped(o)) {
		return NULL;
	}
	if (tap_stderr == -1 &&
	    (tap_stderr = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3)) == -1) {
		return NULL;
	}
	quiet = sshargs_tap_quiet(o);
	if (tap_open(&t, tap_stderr, quiet ? TAP_HOLD : 0,
	    quiet ? tap_line_quiet : tap_line_plain, NULL) != 0) {
		return NULL;
	}
	return t;
}

int
ssh_tap_refused(struct tap *t)
{
	return tap_wait(t, SSH_TAP_SETTLE_MS);
}
