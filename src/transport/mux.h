/*
 * The control socket of a private ControlMaster (our pool's, pool.h):
 * a directory of ours for it, and OpenSSH's multiplexing protocol
 * (PROTOCOL.mux) spoken on it to open a session channel without starting
 * an `ssh -S` client.  Nothing here starts processes or threads; the
 * pool calls mux_new_session() from its background threads, so that
 * function uses no shared state.
 *
 * Debug messages say "pool: ...": the pool is the only user, and they
 * read as part of its trace under -v.
 */
#ifndef SCP_TRANSPORT_MUX_H
#define SCP_TRANSPORT_MUX_H

#include <stdint.h>

/*
 * Makes a fresh 0700 directory for a control socket named `name`: under
 * $TMPDIR when that is short enough for a socket path, else /tmp (never
 * the user's ControlPath).  On success *dir is the directory and *path
 * "dir/name", both owned by the caller and released together with
 * mux_dir_remove(); until then an atexit() handler removes the directory
 * should the program exit first.  Returns 0, or SCP_E_SYS (mkdtemp
 * failed; *dir and *path untouched).
 */
int mux_dir_make(const char *name, char **dir, char **path);

/*
 * Removes what is inside *dir (the socket, any temporary one a dying
 * master left) and *dir itself, frees both strings and sets them NULL.
 * Nothing when *dir is NULL.  Only a mux_dir_make() directory is ever
 * emptied.
 */
void mux_dir_remove(char **dir, char **path);

/*
 * Whether a socket exists at `path` (0 for NULL).  ssh listens on its
 * control socket before it opens its own session, so once that session
 * has answered it is there, unless the ssh program is not OpenSSH's or
 * could not bind.
 */
int mux_socket_ready(const char *path);

/*
 * Connects `ctl` (a new, unconnected AF_UNIX stream socket) to the
 * master at `path` and asks it for a session running `subsystem`, with
 * `peer` as the session's stdin and stdout (SCM_RIGHTS) and /dev/null
 * as its stderr.  `peer` is closed here in every case.  `ctl` stays the
 * caller's: the master ends the session when it is closed, and a
 * shutdown() of it from another thread wakes this call.
 *
 * Returns 0 once the channel is open, with *rtt_us the time from our
 * NEW_SESSION to the master's SESSION_OPENED (one round trip to the
 * server); -1 when refused (MaxSessions) or the master is not there,
 * *rtt_us untouched.
 */
int mux_new_session(int ctl, const char *path, int peer,
    const char *subsystem, uint32_t *rtt_us);

#endif
