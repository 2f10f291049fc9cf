#include "ssh_child.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* Only async-signal-safe calls between fork and exec.  `err` -1: the
 * inherited stderr. */
static void
child_exec(char *const argv[], int in, int out, int err)
{
	const char *msg;

	signal(SIGPIPE, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	if (in != STDIN_FILENO) {
		if (dup2(in, STDIN_FILENO) == -1) {
			_exit(1);
		}
	}
	if (out != STDOUT_FILENO) {
		if (dup2(out, STDOUT_FILENO) == -1) {
			_exit(1);
		}
	}
	/* dup2 clears O_CLOEXEC on fd 2 only: the original (a tap's
	 * write end) still closes at exec. */
	if (err != -1 && err != STDERR_FILENO) {
		if (dup2(err, STDERR_FILENO) == -1) {
			_exit(1);
		}
	}
	if (in > STDERR_FILENO && in != out && in != err) {
		close(in);
	}
	if (out > STDERR_FILENO && out != err) {
		close(out);
	}
	execvp(argv[0], argv);
	msg = strerror(errno);
	(void)!write(STDERR_FILENO, argv[0], strlen(argv[0]));
	(void)!write(STDERR_FILENO, ": ", 2);
	(void)!write(STDERR_FILENO, msg, strlen(msg));
	(void)!write(STDERR_FILENO, "\n", 1);
	_exit(1);
}

int
ssh_child_start(struct ssh_child *c, char *const argv[])
{
	return ssh_child_start_err(c, argv, -1);
}

int
ssh_child_start_err(struct ssh_child *c, char *const argv[], int err)
{
	int sv[2];
	pid_t pid;

	c->pid = -1;
	c->fd = -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		return -1;
	}
	if ((pid = fork()) == -1) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		close(sv[0]);
		/* dup2 clears CLOEXEC on the copies. */
		child_exec(argv, sv[1], sv[1], err);
	}
	close(sv[1]);
	c->pid = pid;
	c->fd = sv[0];
	return 0;
}

int
ssh_child_start_fds(struct ssh_child *c, char *const argv[], int in,
    int out)
{
	pid_t pid;

	c->pid = -1;
	c->fd = -1;
	if ((pid = fork()) == -1) {
		return -1;
	}
	if (pid == 0) {
		/* The descriptors may be CLOEXEC; dup2 to 0/1 clears it. */
		if (in == STDIN_FILENO) {
			fcntl(in, F_SETFD, 0);
		}
		if (out == STDOUT_FILENO) {
			fcntl(out, F_SETFD, 0);
		}
		child_exec(argv, in, out, -1);
	}
	c->pid = pid;
	return 0;
}

int
ssh_child_finish(struct ssh_child *c)
{
	int status;
	pid_t r;

	if (c->fd != -1) {
		close(c->fd);
		c->fd = -1;
	}
	if (c->pid == -1) {
		return -1;
	}
	do {
		r = waitpid(c->pid, &status, 0);
	} while (r == -1 && errno == EINTR);
	c->pid = -1;
	if (r == -1) {
		return -1;
	}
	if (WIFEXITED(status)) {
		return WEXITSTATUS(status);
	}
	if (WIFSIGNALED(status)) {
		return 128 + WTERMSIG(status);
	}
	return -1;
}

void
ssh_child_kill(const struct ssh_child *c, int sig)
{
	if (c->pid > 0) {
		kill(c->pid, sig);
	}
}
