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
 * With -D (cfg->direct) every member is a local sftp server started
 * from the same argv; there is no master and no socket.
 *
 * What the pool knows of the command line comes as data, in a struct
 * pool_config that src/cli fills: the first connection's argv (built
 * there with sshargs), the user's ssh options, the -v trace, -v and -D.
 * SFTP comes as three callbacks on an opaque session
 * (cfg->session_open/_start/_free), so this layer never includes
 * src/proto.  A callback rather than an SFTP half of the pool in
 * src/proto/sftp: all the pool does with SFTP is those three calls, made
 * from the threads that opened the mux channel a moment before, so an
 * SFTP-side pool would only wrap them again; and proto/sftp already
 * takes its extra sessions through a callback of its own
 * (sftp_session_set_peers), which src/cli answers from the pool.  So
 * src/cli depends on both, and neither on the other.
 *
 * pool.c keeps the members, the background channels and the probe's
 * gate; mux.h the control socket's directory and the mux protocol.
 *
 * Each member's process is listed in transport/children.h, so src/cli's
 * SIGINT/TERM/HUP handlers kill them all.  Members are allocated one by
 * one, so the registration stays valid while the pool drops refused
 * members.  Nothing here exits: a fork that fails is SCP_E_SPAWN for the
 * caller to turn into its fatal error.
 */
#ifndef SCP_TRANSPORT_POOL_H
#define SCP_TRANSPORT_POOL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/strvec.h"
#include "ssh_child.h"

/* Upper bound on members: sshd's MaxSessions default (10) is the most
 * channels one connection gives.  children.h tracks the processes (the
 * master and extra connections; channels have none). */
#ifndef POOL_MAX
#define POOL_MAX	10
#endif

/* Basename of the control socket inside the pool's directory. */
#define POOL_SOCKET_NAME	"cm"

/*
 * What a pool is opened with; borrowed, it must stay valid (and
 * unchanged) until pool_close().
 *
 * The session callbacks get `session_ctx`.  session_open is called from
 * the pool's background threads, several at once, as well as from the
 * caller's: it must be safe to call concurrently.  session_open blocks
 * until the session is usable; session_start returns once its first
 * request is written (used for the first member when nothing else
 * needs the master up).  Both return 0 with *sess set, or a negative
 * SCP_E_* code (their message printed, *sess unset).  session_free takes
 * NULL and never closes the descriptor (the pool does).
 */
struct pool_config {
	/* The whole argv of the first connection: for SFTP over ssh
	 * "program ... -s -- HOST sftp", with -D the server's argv.  Every
	 * member's argv is derived from it (pool_argv). */
	const struct strvec *argv;
	/* The user's ssh options inside argv (-J, -o ProxyJump are looked
	 * for there); NULL: none. */
	const struct strvec *ssh_args;
	/* Printed (log_plain) when the first member starts, as the caller
	 * prints it for a plain connection; NULL: nothing. */
	const char *trace;
	/* The stderr of every process the pool starts (the first ssh and
	 * the extra connections; a tap's write end, tap.h), or -1 for the
	 * inherited one.  Borrowed: open until pool_open() or
	 * pool_open_master() returned (no process is started later:
	 * channels have none). */
	int err_fd;
	int verbose;		/* -v: members keep ssh's messages */
	int direct;		/* -D: argv runs a local sftp server */

	int (*session_open)(void *ctx, int fd, void **sess);
	int (*session_start)(void *ctx, int fd, void **sess);
	void (*session_free)(void *ctx, void *sess);
	void *session_ctx;
};

enum pool_role {
	POOL_MASTER,	/* first session; its ssh is our ControlMaster */
	POOL_MUX,	/* a channel over the master's socket */
	POOL_CONN,	/* an independent extra connection */
	POOL_DIRECT,	/* -D: a local sftp server */
};

/*
 * A channel being opened in the background (pool_grow): one thread
 * speaks OpenSSH's mux protocol on the master's control socket
 * (PROTOCOL.mux: MUX_C_NEW_SESSION for the "sftp" subsystem, our end
 * of a socketpair passed as its stdin and stdout with SCM_RIGHTS, so no
 * `ssh -S` process is started and none relays), then opens the session
 * on the socketpair (cfg->session_open).  `done` is set (atomically)
 * when it ended.
 */
struct pool_job {
	int fd;			/* our end of the session's socketpair */
	int peer;		/* its other end, passed to the master */
	int ctl;		/* control connection; the master ends the
				 * session when it closes */
	const struct pool_config *cfg;
	const char *ctlpath;
	struct pool_gate *gate;	/* wait for the probe's verdict, or NULL */
	size_t rank;		/* sessions the pool has with this one */
	int probe;		/* its round trip opens the gate */
	int wait_sock;		/* the master is still logging in: wait
				 * for its control socket to appear */
	int unwanted;		/* the gate said no: not a refusal */
	int state;		/* (atomic) 1: the session is being
				 * opened; 2: stopped before that
				 * (pool_job_finish) */
	void *sess;		/* the thread's result, or NULL */
	uint32_t rtt_us;	/* NEW_SESSION -> SESSION_OPENED */
	int started;		/* the thread exists */
	int done;
	pthread_t th;
};

/*
 * Channels started before the round trip is known (pool_grow_auto):
 * the first (the probe) measures it; each other waits here, then goes
 * on only if the policy wants that many sessions: rtt >= min_rtt and
 * rank <= min(cap, ceil(rtt / step)).
 */
struct pool_gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int known;
	uint32_t rtt_us;
	uint32_t min_rtt, step;
	size_t cap;
};

struct pool_member {
	enum pool_role role;
	struct ssh_child child;	/* MUX: pid -1, fd the socketpair */
	int ctl;		/* MUX: control connection, else -1 */
	void *sess;		/* owned (cfg->session_free) */
};

struct pool {
	const struct pool_config *cfg;	/* borrowed */
	char *dir;		/* private 0700 directory, NULL if none */
	char *ctlpath;		/* dir/cm as given to ssh, NULL if none */
	size_t n;		/* members m[0..n-1] are open */
	size_t nmux;		/* of which POOL_MUX */
	size_t nconn;		/* of which POOL_CONN */
	size_t refused;		/* extra sessions asked for but not opened */
	struct pool_member *m[POOL_MAX];	/* owned */
	struct pool_job *job[POOL_MAX];		/* channels opening */
	size_t njob;
	uint32_t rtt_us;	/* first channel's open round trip, 0 */
	struct pool_gate *gate;	/* owned, NULL if none */
};

/*
 * Appends the argv of one member's process to `out` (empty):
 * cfg->argv, with the options of `role` inserted right after the
 * program name so that they win over the user's -o and config (ssh
 * keeps the first value it sees):
 *   POOL_MASTER  -oControlMaster=yes -oControlPath=CTL -oControlPersist=no
 *   POOL_MUX     -oControlMaster=no -oControlPath=CTL -oBatchMode=yes
 *                -oLogLevel=QUIET -oProxyCommand=false
 *                (ProxyCommand=false: when the master refuses the
 *                channel, ssh would otherwise fall back to a fresh
 *                connection and authenticate again; left out when
 *                cfg->ssh_args has -J or -oProxyJump, which ssh cannot
 *                combine with it)
 *   POOL_CONN    -oControlMaster=no -oControlPath=none -oBatchMode=yes
 *                -oLogLevel=QUIET
 * -oLogLevel=QUIET is left out under cfg->verbose.  With cfg->direct,
 * or for POOL_DIRECT, the argv is cfg->argv unchanged; so is a MASTER's
 * or MUX's without a `ctlpath` (a pool of one).  `ctlpath` is used only
 * by MASTER and MUX; '%' in it is doubled (ssh expands %-tokens in
 * ControlPath).
 */
void pool_argv(struct strvec *out, const struct pool_config *cfg,
    enum pool_role role, const char *ctlpath);

/*
 * Opens a pool with `cfg`: `channels` sessions over one connection (the
 * master's own included, so 1 means no mux clients) plus `connections`
 * extra connections.  Without -D, channels > 1 makes the first ssh a
 * ControlMaster; with channels == 1 it is started from cfg->argv
 * exactly.  With -D, channels + connections local servers are started.
 * The total is capped at POOL_MAX.  A pool of one returns once its
 * session is started (cfg->session_start), any other once every
 * session is open.
 *
 * Returns 0 with p->n >= 1 (fewer sessions than asked is not an error:
 * p->refused says how many were not opened), or a negative code:
 *   SCP_E_SPAWN  fork (or the socketpair) failed, errno says why: the
 *                caller's fatal error.  If it was the first member,
 *                nothing is left to close; if an extra one, the pool is
 *                left as it was, its children registered (the caller
 *                exits, children_abort_all() reaps them, an atexit()
 *                handler removes the directory), and pool_close() is
 *                safe.
 *   SCP_E_INTR   the cancel flag (io_set_cancel) was raised while
 *                opening: the pool is closed.
 *   other        the first session failed (message printed by
 *                cfg->session_*, every child reaped, nothing to close).
 */
int pool_open(struct pool *p, const struct pool_config *cfg, int channels,
    int connections);

/*
 * The first session only, its ssh our private ControlMaster (a pool of
 * one that pool_grow() may extend).  Without a private directory the
 * ssh is the plain one and the pool cannot grow.  Returns as pool_open,
 * as soon as cfg->session_start does: the master's socket may not be
 * there yet (it is once the session has had its first reply).
 */
int pool_open_master(struct pool *p, const struct pool_config *cfg);

/*
 * Starts opening channels in the background until the pool, counting
 * those already opening, has `want` sessions (at most POOL_MAX); returns
 * at once.  Nothing when there is no control socket.
 */
void pool_grow(struct pool *p, size_t want);

/*
 * Starts channels before anything is known but the biggest file (the
 * automatic policy, run_sftp.c): one probe at once, and up to `cap`
 * sessions in all, each of which goes on only if the probe's round trip
 * says the policy wants it (struct pool_gate).  Returns at once.
 * `early`: called while the master may still be logging in; the probe
 * waits for the control socket to appear (until the pool is closed)
 * instead of nothing being started without it.
 */
void pool_grow_auto(struct pool *p, size_t cap, uint32_t min_rtt,
    uint32_t step, int early);

/*
 * Adds the background channels whose session is open to the pool (a
 * refused one, MaxSessions, is dropped quietly and counted in
 * p->refused).  `wait`: POOL_WAIT_NONE never waits, POOL_WAIT_FIRST
 * waits for the oldest (the probe), POOL_WAIT_ALL for all.  Returns how
 * many are still opening.
 */
#define POOL_WAIT_NONE	0
#define POOL_WAIT_FIRST	1
#define POOL_WAIT_ALL	2
size_t pool_collect(struct pool *p, int wait);

/*
 * The round trip the probe channel measured (pool_grow_auto) in *rtt_us:
 * 0 when there is no probe or it failed.  Never waits: returns 1 when
 * *rtt_us is set, 0 while the probe is still under way (it knows one
 * round trip after it started).
 */
int pool_probe_rtt(struct pool *p, uint32_t *rtt_us);

/* Whether channels are still opening in the background. */
int pool_opening(const struct pool *p);

/* Session i (0 <= i < p->n), still owned by the pool; session 0 is the
 * master's.  NULL for i >= p->n. */
void *pool_session(struct pool *p, size_t i);

/*
 * Frees every session (cfg->session_free) and reaps every child
 * (children_finish), the master last (its connection carries the mux
 * channels), then removes the socket and the directory.  `broken`
 * non-zero: a session is unusable, SIGTERM the children first so none
 * can keep us waiting.  Returns the number of children that exited
 * non-zero (for the caller's error count; refused members were already
 * reaped by pool_open and do not count).  Leaves the pool empty; safe
 * to call again.
 */
int pool_close(struct pool *p, int broken);

#endif
