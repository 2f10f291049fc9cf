/*
 * Signals and fatal errors (PROTOCOL.md section 1, "Exit status":
 * SIGINT/TERM/HUP kill the ssh children, exit 1).  The children
 * themselves are listed by transport/children.c.
 *
 * The handler only raises a flag and sends SIGTERM to the registered
 * children: the io loops notice the flag (io_set_cancel) or the closed
 * connection, and the normal flow unwinds and exits 1.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../transport/children.h"
#include "../transport/io.h"
#include "../util/log.h"
#include "../util/report.h"
#include "../util/xmalloc.h"
#include "run.h"

volatile sig_atomic_t cli_interrupted;

static void
cli_on_signal(int sig)
{
	int saved = errno;

	(void)sig;
	cli_interrupted = 1;
	children_kill_all(SIGTERM);
	errno = saved;
}

/*
 * ^Z and background tty access: stop the children first, then ourselves
 * (OpenSSH's suspchild; PROTOCOL.md section 3).  The wait makes sure
 * they are stopped before we are.
 */
static void
cli_on_suspend(int sig)
{
	int saved = errno;

	children_stop_all(sig);
	kill(getpid(), SIGSTOP);
	errno = saved;
}

void
cli_signals_install(void)
{
	static const int susp[] = { SIGTSTP, SIGTTIN, SIGTTOU };
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa, old;
	size_t i;

	io_set_cancel(&cli_interrupted);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGPIPE, &sa, NULL);

	/* No SA_RESTART: blocking calls must return EINTR so the io layer
	 * can see the flag. */
	sa.sa_handler = cli_on_signal;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		if (sigaction(sigs[i], NULL, &old) == 0 &&
		    old.sa_handler == SIG_IGN) {
			continue;	/* e.g. under nohup */
		}
		sigaction(sigs[i], &sa, NULL);
	}
	sa.sa_handler = cli_on_suspend;
	sa.sa_flags = SA_RESTART;
	for (i = 0; i < sizeof(susp) / sizeof(susp[0]); i++) {
		sigaction(susp[i], &sa, NULL);
	}
}

void
cli_fatal(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("%s", msg);
	children_abort_all();
	cli_exit(255);
}

void
cli_exit(int status)
{
	report_summary(status);
	exit(status);
}

/* OpenSSH's do_local_cmd() trace: "Executing: arg arg ...". */
void
cli_trace_argv(const struct scp_options *o, char *const argv[])
{
	char *line, *next;
	size_t i;

	if (!o->verbose) {
		return;
	}
	line = xstrdup("Executing:");
	for (i = 0; argv[i] != NULL; i++) {
		next = xasprintf("%s %s", line, argv[i]);
		free(line);
		line = next;
	}
	log_plain("%s", line);
	free(line);
}
