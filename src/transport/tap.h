/*
 * A watched stderr for child processes: a pipe whose write end the
 * caller gives the children it starts as their fd 2
 * (ssh_child_start_err(), children_start_err(), pool_config.err_fd),
 * and whose read end a thread of ours copies to `out` (the real
 * stderr), showing every line to the owner's callback on the way.  What
 * the lines mean, and whether a line is shown, is the owner's business
 * (src/cli/sshtap.c: the automatic legacy fallback watches ssh for the
 * server's refusal of the sftp subsystem); the tap only carries them.
 *
 * Ownership: tap_open() makes the pipe (both ends O_CLOEXEC, so no
 * other child inherits them; a child given the write end gets it as fd
 * 2 through dup2) and the thread.  The owner holds the write end until
 * tap_close_writer() (it can start more children with it meanwhile, and
 * may write to it itself); the thread holds the read end and forwards
 * until every writer is gone (EOF), then frees what the owner released.
 * The thread blocks every signal: the process's handlers run on the
 * threads that wait in the io loops.
 */
#ifndef SCP_TRANSPORT_TAP_H
#define SCP_TRANSPORT_TAP_H

#include <stddef.h>

/* Longest line the callback sees (longer ones are cut: it gets the
 * first TAP_LINE - 1 bytes, and the rest is forwarded unseen). */
#define TAP_LINE	2048

/* tap_open() flags. */
#define TAP_HOLD	1	/* copy each line to `out` only after the
				 * callback saw it (so it may drop it); a
				 * line longer than TAP_LINE is forwarded
				 * whatever it says.  Without: bytes are
				 * copied at once, as they come */

/* What the callback returns, or'ed. */
#define TAP_MATCH	1	/* the line is what the owner waits for */
#define TAP_DROP	2	/* with TAP_HOLD: do not copy it to `out` */

/*
 * Called on the tap's thread for every line: `line` is NUL-terminated,
 * without its '\n' but with any '\r' before it, `len` bytes; at EOF
 * also for a last line without '\n'.  `ctx` must stay valid as long as
 * a writer may be open (a child's lifetime: pass something static).
 */
typedef int (*tap_line_fn)(void *ctx, const char *line, size_t len);

struct tap;

/*
 * Opens a tap copying to `out` (borrowed: it must stay open as long as
 * the thread runs, e.g. a CLOEXEC dup of stderr kept for the process's
 * life).  Returns 0 with *tp set, or -1 with errno (no pipe, no thread;
 * nothing left open).
 */
int tap_open(struct tap **tp, int out, int flags, tap_line_fn fn,
    void *ctx);

/* The write end to give children (as their stderr), or -1 once
 * tap_close_writer() ran. */
int tap_fd(const struct tap *t);

/* Closes the owner's write end: EOF then comes once the children that
 * have it are gone.  Idempotent. */
void tap_close_writer(struct tap *t);

/*
 * 1 once a line matched (the callback returned TAP_MATCH), else waits
 * until one does, every writer is gone (then 0), or `ms` milliseconds
 * passed (then 0).  Closes the owner's write end first, or EOF could
 * never come.  NULL-safe (0).
 */
int tap_wait(struct tap *t, int ms);

/* The owner is done with `t` (its write end closed if still open); the
 * thread forwards until EOF and frees it.  NULL-safe. */
void tap_release(struct tap *t);

#endif
