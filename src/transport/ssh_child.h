/*
 * Spawning the transport: the ssh program (or -S program, or the -D
 * sftp server) as a child process with an argv vector, its stdin and
 * stdout one end of a socketpair.  Nothing here parses options: the
 * caller (src/cli) builds the argv.
 */
#ifndef SCP_TRANSPORT_SSH_CHILD_H
#define SCP_TRANSPORT_SSH_CHILD_H

#include <sys/types.h>

struct ssh_child {
	pid_t pid;	/* -1 when not running */
	int fd;		/* our end: read replies, write requests; -1 if none */
};

/*
 * Starts argv[0] (looked up in PATH when it has no '/') with
 * stdin/stdout connected to a new socketpair whose other end is stored
 * in c->fd.  stderr is inherited.  If exec fails, the child prints
 * "<argv0>: <strerror>" and exits 1, so the caller sees EOF, as with
 * OpenSSH.  Returns 0, or -1 with errno if the socketpair or fork failed.
 */
int ssh_child_start(struct ssh_child *c, char *const argv[]);

/*
 * ssh_child_start() with `err` as the child's stderr (a tap's write
 * end, transport/tap.h; it may be O_CLOEXEC, the child's fd 2 is not),
 * or the inherited one for -1.  The caller still owns `err`.
 */
int ssh_child_start_err(struct ssh_child *c, char *const argv[], int err);

/*
 * Starts argv[0] with the given descriptors as its stdin and stdout
 * (the -3 legacy relay wires two ssh processes together this way).
 * c->fd is set to -1.  The caller still owns and closes in/out.
 */
int ssh_child_start_fds(struct ssh_child *c, char *const argv[], int in,
    int out);

/*
 * Closes our end (if open) and waits for the child.  Returns its exit
 * status (0-255), 128+signal if it was killed, or -1 if it was not
 * running.  Retries on EINTR.
 */
int ssh_child_finish(struct ssh_child *c);

/* Sends `sig` to the child if it runs.  Async-signal-safe. */
void ssh_child_kill(const struct ssh_child *c, int sig);

#endif
