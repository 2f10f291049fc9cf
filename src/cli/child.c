/*
 * Child process bookkeeping and signals (PROTOCOL.md section 1, "Exit
 * status": SIGINT/TERM/HUP kill the ssh children, exit 1).
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../transport/io.h"
#include "../util/log.h"
#include "../util/xmalloc.h"
#include "run.h"

#define MAX_CHILDREN	32

volatile sig_atomic_t cli_interrupted;

/* Read by the signal handler: a slot is only published once complete. */
static struct ssh_child *volatile children[MAX_CHILDREN];

static void
cli_on_signal(int sig)
{
	int i, saved = errno;

	(void)sig;
	cli_interrupted = 1;
	for (i = 0; i < MAX_CHILDREN; i++) {
		if (children[i] != NULL) {
			ssh_child_kill(children[i], SIGTERM);
		}
	}
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
	siginfo_t info;
	int i, saved = errno;
	pid_t pid;

	for (i = 0; i < MAX_CHILDREN; i++) {
		if (children[i] == NULL || (pid = children[i]->pid) <= 1) {
			continue;
		}
		kill(pid, sig);
		/* WNOWAIT: an exited child stays for ssh_child_finish. */
		while (waitid(P_PID, (id_t)pid, &info,
		    WSTOPPED | WEXITED | WNOWAIT) == -1 && errno == EINTR) {
			continue;
		}
	}
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
cli_child_register(struct ssh_child *c)
{
	int i;

	for (i = 0; i < MAX_CHILDREN; i++) {
		if (children[i] == NULL || children[i] == c) {
			children[i] = c;
			return;
		}
	}
	/* More children than slots would only lose the signal kill. */
}

static void
cli_child_unregister(struct ssh_child *c)
{
	int i;

	for (i = 0; i < MAX_CHILDREN; i++) {
		if (children[i] == c) {
			children[i] = NULL;
		}
	}
}

int
cli_child_start(struct ssh_child *c, char *const argv[])
{
	if (ssh_child_start(c, argv) == -1) {
		return -1;
	}
	cli_child_register(c);
	if (cli_interrupted) {
		ssh_child_kill(c, SIGTERM);
	}
	return 0;
}

int
cli_child_start_fds(struct ssh_child *c, char *const argv[], int in,
    int out)
{
	if (ssh_child_start_fds(c, argv, in, out) == -1) {
		return -1;
	}
	cli_child_register(c);
	if (cli_interrupted) {
		ssh_child_kill(c, SIGTERM);
	}
	return 0;
}

/*
 * With --timeout, a child whose connection we have closed gets that long
 * to exit: a hung ssh (or a peer that never answers) must not keep us
 * waiting forever.  Only for children we talk to (c->fd open): the -3 and
 * -R children run the whole transfer while we wait.
 */
static void
cli_child_wait_bounded(struct ssh_child *c)
{
	struct timespec tick = { 0, 50 * 1000 * 1000 };
	unsigned int limit = io_get_timeout();
	unsigned long waited_ms = 0;
	siginfo_t info;

	if (limit == 0 || c->pid <= 0 || c->fd == -1) {
		return;
	}
	close(c->fd);
	c->fd = -1;
	for (;;) {
		memset(&info, 0, sizeof(info));
		/* WNOWAIT: ssh_child_finish() reaps it. */
		if (waitid(P_PID, (id_t)c->pid, &info,
		    WEXITED | WNOHANG | WNOWAIT) == -1) {
			if (errno == EINTR) {
				continue;
			}
			return;
		}
		if (info.si_pid == c->pid) {
			return;
		}
		if (waited_ms >= (unsigned long)limit * 1000) {
			log_error("connection did not close within %u s: "
			    "killing ssh", limit);
			ssh_child_kill(c, SIGTERM);
			return;
		}
		nanosleep(&tick, NULL);
		waited_ms += 50;
	}
}

int
cli_child_finish(struct ssh_child *c)
{
	int r;

	cli_child_wait_bounded(c);
	r = ssh_child_finish(c);
	cli_child_unregister(c);
	return r;
}

int
cli_child_abort(struct ssh_child *c)
{
	ssh_child_kill(c, SIGTERM);
	return cli_child_finish(c);
}

void
cli_child_finish_all(void)
{
	int i;

	for (i = 0; i < MAX_CHILDREN; i++) {
		if (children[i] != NULL) {
			cli_child_finish(children[i]);
		}
	}
}

void
cli_child_abort_all(void)
{
	int i;

	for (i = 0; i < MAX_CHILDREN; i++) {
		if (children[i] != NULL) {
			cli_child_abort(children[i]);
		}
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
	cli_child_abort_all();
	exit(255);
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
