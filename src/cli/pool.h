/*
 * A pool of SFTP sessions to one destination ("several channels, one
 * authentication"; PROTOCOL.md section 7, docs/design-speed.md).
 *
 * The first session is opened as usual, but its ssh is started as a
 * private ControlMaster on a socket in a fresh 0700 directory of ours
 * (never the user's ControlPath).  Further sessions are mux clients over
 * that socket: a new channel on the same connection, no new
 * authentication.  Optionally, extra independent connections (one ssh
 * process each, one more core for crypto) are opened one after another,
 * so sshd's MaxStartups never sees a burst.
 *
 * Extra sessions are best effort: a mux session refused by the server
 * (MaxSessions, 10 by default) or a connection that fails (MaxStartups,
 * an authentication that would need a prompt) just means a smaller
 * pool.  Their failures are kept off the terminal unless -v was given.
 * Only the first session failing is an error.
 *
 * With -D (o->sftp_direct) every member is a local sftp server started
 * from the same argv; there is no master and no socket.
 *
 * Each member's ssh is registered with child.c, so SIGINT/TERM/HUP kill
 * them all.  Members are allocated one by one, so the child.c
 * registration stays valid while the pool drops refused members.
 */
#ifndef SCP_CLI_POOL_H
#define SCP_CLI_POOL_H

#include <stddef.h>

#include "../proto/sftp/sftp.h"
#include "../transport/ssh_child.h"
#include "../util/strvec.h"
#include "options.h"

/* Upper bound on members.  child.c tracks at most 8 children for its
 * signal handler, and run_sftp.c may hold one more connection (-3). */
#ifndef POOL_MAX
#define POOL_MAX	7
#endif

/* Basename of the control socket inside the pool's directory. */
#define POOL_SOCKET_NAME	"cm"

enum pool_role {
	POOL_MASTER,	/* first session; its ssh is our ControlMaster */
	POOL_MUX,	/* a channel over the master's socket */
	POOL_CONN,	/* an independent extra connection */
	POOL_DIRECT,	/* -D: a local sftp server */
};

struct pool_member {
	enum pool_role role;
	struct ssh_child child;
	struct sftp_session *sess;	/* owned */
};

struct pool {
	char *dir;		/* private 0700 directory, NULL if none */
	char *ctlpath;		/* dir/cm as given to ssh, NULL if none */
	size_t n;		/* members m[0..n-1] are open */
	size_t nmux;		/* of which POOL_MUX */
	size_t nconn;		/* of which POOL_CONN */
	size_t refused;		/* extra sessions asked for but not opened */
	struct pool_member *m[POOL_MAX];	/* owned */
};

/*
 * Appends the argv of one member's process to `out` (empty): the argv of
 * sshargs_connection(SSHARGS_SFTP), with the options of `role` inserted
 * right after the program name so that they win over the user's -o and
 * config (ssh keeps the first value it sees):
 *   POOL_MASTER  -oControlMaster=yes -oControlPath=CTL -oControlPersist=no
 *   POOL_MUX     -oControlMaster=no -oControlPath=CTL -oBatchMode=yes
 *                -oLogLevel=QUIET -oProxyCommand=false
 *                (ProxyCommand=false: when the master refuses the
 *                channel, ssh would otherwise fall back to a fresh
 *                connection and authenticate again; left out when the
 *                user gave -J or -oProxyJump, which ssh cannot combine
 *                with it)
 *   POOL_CONN    -oControlMaster=no -oControlPath=none -oBatchMode=yes
 *                -oLogLevel=QUIET
 * -oLogLevel=QUIET is left out under -v (o->verbose).  With -D, or for
 * POOL_DIRECT, the argv is the -D program's, unchanged; so is a
 * MASTER's or MUX's without a `ctlpath` (a pool of one).  `ctlpath` is
 * used only by MASTER and MUX; '%' in it is doubled (ssh expands
 * %-tokens in ControlPath).
 */
void pool_argv(struct strvec *out, const struct scp_options *o,
    enum pool_role role, const char *ctlpath, const char *host,
    const char *user, int port);

/*
 * Opens a pool to `host` (`user`, `port` as for sshargs_connection):
 * `channels` sessions over one connection (the master's own included,
 * so 1 means no mux clients) plus `connections` extra connections.
 * Without -D, channels > 1 makes the first ssh a ControlMaster; with
 * channels == 1 it is started exactly as run_sftp.c does.  With -D,
 * channels + connections local servers are started.  The total is
 * capped at POOL_MAX.  `fo` is kept by pointer by every session.
 *
 * Returns 0 with p->n >= 1 (fewer sessions than asked is not an error:
 * p->refused says how many were not opened), or a negative SCP_E_* code
 * when the first session failed (message printed as by
 * sftp_session_open(), every child reaped, nothing left to close) or
 * SCP_E_INTR when interrupted while opening (pool closed).  Exits only
 * through cli_fatal() when fork fails, as run_sftp.c does.
 */
int pool_open(struct pool *p, const struct scp_options *o,
    const struct sftp_opts *fo, const char *host, const char *user,
    int port, int channels, int connections);

/* Session i (0 <= i < p->n); session 0 is the master's. */
struct sftp_session *pool_session(struct pool *p, size_t i);

/*
 * Frees every session and reaps every child, the master last (its
 * connection carries the mux channels), then removes the socket and the
 * directory.  `broken` non-zero: a session is unusable, SIGTERM the
 * children first so none can keep us waiting.  Returns the number of
 * children that exited non-zero (for the caller's error count; refused
 * members were already reaped by pool_open and do not count).  Leaves
 * the pool empty; safe to call again.
 */
int pool_close(struct pool *p, int broken);

#endif
