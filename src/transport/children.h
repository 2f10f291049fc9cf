/*
 * The registry of our running children (ssh, the -D server, a local
 * copy's source): every process we start is recorded here so that a
 * signal (PROTOCOL.md section 1, "Exit status") can reach them all, and
 * so that a fatal error can reap them before the program exits.
 *
 * The registry only keeps the list and starts, stops and reaps
 * processes.  Installing signal handlers and exiting stay in src/cli:
 * its handlers call children_kill_all() and children_stop_all(), the
 * two functions here that are async-signal-safe.
 *
 * Entries point at the caller's struct ssh_child, which must stay at
 * the same address until children_finish() (or _abort) unregisters it.
 * At most CHILDREN_MAX are tracked; more still run but would miss the
 * signal kill.
 */
#ifndef SCP_TRANSPORT_CHILDREN_H
#define SCP_TRANSPORT_CHILDREN_H

#include "ssh_child.h"

#define CHILDREN_MAX	32

/*
 * ssh_child_start() / ssh_child_start_fds() plus registration.  A child
 * started after the cancel flag (io_set_cancel) was raised gets SIGTERM
 * at once: the signal that raised it came before the child was listed.
 * Same returns as ssh_child_start(): 0, or -1 with errno.
 */
int children_start(struct ssh_child *c, char *const argv[]);
/* children_start() with `err` as the child's stderr (-1: inherited;
 * see ssh_child_start_err()). */
int children_start_err(struct ssh_child *c, char *const argv[], int err);
int children_start_fds(struct ssh_child *c, char *const argv[], int in,
    int out);

/* Registers a child forked by hand (local copies).  Registering one
 * twice is harmless. */
void children_register(struct ssh_child *c);

/*
 * ssh_child_finish() plus unregistration.  With io_set_timeout() N, a
 * child we talk to (c->fd open) gets N seconds to exit once its
 * connection is closed, then SIGTERM ("connection did not close within
 * N s: killing ssh"), so a hung ssh cannot keep us waiting.  Returns
 * what ssh_child_finish() returns.
 */
int children_finish(struct ssh_child *c);

/*
 * For a connection known to be broken (lost, timed out, out of sync):
 * SIGTERM first, then children_finish().  Same return.
 */
int children_abort(struct ssh_child *c);

/* children_finish() on every registered child (at exit). */
void children_finish_all(void);
/* children_abort() on every registered child (fatal paths). */
void children_abort_all(void);

/* Sends `sig` to every registered child.  Async-signal-safe. */
void children_kill_all(int sig);

/*
 * Sends stop signal `sig` to every registered child and waits until
 * each has stopped (or exited, left for children_finish to reap), so
 * that they are stopped before the caller stops itself (OpenSSH's
 * suspchild).  Async-signal-safe.
 */
void children_stop_all(int sig);

#endif
