/*
 * The registry of running children (children.h): a fixed array a signal
 * handler can walk, start/finish wrappers that keep it current.
 */
#include "children.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../util/log.h"
#include "io.h"

/* Read by signal handlers: a slot is only published once complete. */
static struct ssh_child *volatile children[CHILDREN_MAX];

void
children_kill_all(int sig)
{
	int i;

	for (i = 0; i < CHILDREN_MAX; i++) {
		if (children[i] != NULL) {
			ssh_child_kill(children[i], sig);
		}
	}
}

void
children_stop_all(int sig)
{
	siginfo_t info;
	int i;
	pid_t pid;

	for (i = 0; i < CHILDREN_MAX; i++) {
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
}

void
children_register(struct ssh_child *c)
{
	int i;

	for (i = 0; i < CHILDREN_MAX; i++) {
		if (children[i] == NULL || children[i] == c) {
			children[i] = c;
			return;
		}
	}
	/* More children than slots would only lose the signal kill. */
}

static void
children_unregister(struct ssh_child *c)
{
	int i;

	for (i = 0; i < CHILDREN_MAX; i++) {
		if (children[i] == c) {
			children[i] = NULL;
		}
	}
}

int
children_start(struct ssh_child *c, char *const argv[])
{
	return children_start_err(c, argv, -1);
}

int
children_start_err(struct ssh_child *c, char *const argv[], int err)
{
	if (ssh_child_start_err(c, argv, err) == -1) {
		return -1;
	}
	children_register(c);
	if (io_cancelled()) {
		ssh_child_kill(c, SIGTERM);
	}
	return 0;
}

int
children_start_fds(struct ssh_child *c, char *const argv[], int in,
    int out)
{
	if (ssh_child_start_fds(c, argv, in, out) == -1) {
		return -1;
	}
	children_register(c);
	if (io_cancelled()) {
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
children_wait_bounded(struct ssh_child *c)
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
children_finish(struct ssh_child *c)
{
	int r;

	children_wait_bounded(c);
	r = ssh_child_finish(c);
	children_unregister(c);
	return r;
}

int
children_abort(struct ssh_child *c)
{
	ssh_child_kill(c, SIGTERM);
	return children_finish(c);
}

void
children_finish_all(void)
{
	int i;

	for (i = 0; i < CHILDREN_MAX; i++) {
		if (children[i] != NULL) {
			children_finish(children[i]);
		}
	}
}

void
children_abort_all(void)
{
	int i;

	for (i = 0; i < CHILDREN_MAX; i++) {
		if (children[i] != NULL) {
			children_abort(children[i]);
		}
	}
}
