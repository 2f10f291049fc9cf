/*
 * Running a copy once the options are parsed: dispatch by operand kind
 * (PROTOCOL.md section 1 "Modes by operand kinds"), the legacy and SFTP
 * client flows, local copies, the server modes, and the bookkeeping of
 * child processes and signals.  Only src/cli code; these functions may
 * exit() (fatal errors: 255).
 */
#ifndef SCP_CLI_RUN_H
#define SCP_CLI_RUN_H

#include <signal.h>

#include "../proto/scp/scp.h"
#include "../proto/sftp/sftp.h"
#include "../xfer/xfer.h"
#include "../transport/children.h"
#include "../transport/ssh_child.h"
#include "../transport/tap.h"
#include "operand.h"
#include "options.h"
#include "../transport/pool.h"

/* State of one client run. */
struct cli {
	struct scp_options *o;
	struct scp_opts sopts;		/* legacy engine options */
	struct sftp_opts fopts;		/* SFTP engine options */
	int errs;			/* exit 1 if non-zero */
	int stop;			/* a connection broke: no more operands */

	/* The single upload connection (all local sources to one target). */
	struct ssh_child up;
	int up_open;
	struct scp_conn upconn;		/* legacy */
	struct sftp_session *upsess;	/* SFTP */
};

/* --- child.c: signals, fatal() ----------------------------------- */

/* Set by SIGINT/SIGTERM/SIGHUP (the io cancel flag). */
extern volatile sig_atomic_t cli_interrupted;

/*
 * Installs the handlers: INT/TERM/HUP raise cli_interrupted and send
 * SIGTERM to every registered child; SIGPIPE is ignored (EPIPE becomes
 * "lost connection").
 */
void cli_signals_install(void);

/* The children are listed by transport/children.h (children_start,
 * children_finish, ...); the handlers reach them through
 * children_kill_all() and children_stop_all(). */

/* The one way out of a client run: the --json summary and the final
 * total line (report_summary()), then exit(status). */
void cli_exit(int status) __attribute__((noreturn));

/* Prints "scp: <msg>", kills and reaps the children, exits 255. */
void cli_fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

/* Prints "Executing: ..." under -v. */
void cli_trace_argv(const struct scp_options *o, char *const argv[]);

/* --- run_client.c ------------------------------------------------- */

/* The client: returns the exit status (0 or 1); fatal paths exit 255. */
int run_client(struct scp_options *o);

/* --- events.c: --json and --progress (util/report.h) -------------- */

/*
 * Turns the report's consumers and the per-file meter on as the options
 * and the terminal say, emits the start event and counts local sources
 * ahead (the plan).  Returns 1 when the transfers must feed the meter
 * calls (their `progress` options), 0 when nothing listens.  Exits 255
 * when the --json descriptor is not open.
 */
int cli_events_start(struct scp_options *o);

/* --- run_server.c ------------------------------------------------- */

/* -t / -f on stdin/stdout, always the legacy protocol.  Exit status. */
int run_server(struct scp_options *o);

/* --- run_legacy.c ------------------------------------------------- */

/* Sends local `src` over the (lazily opened) `scp -t` connection. */
void legacy_upload(struct cli *x, const char *src,
    const struct operand *targ);
/* One `scp -f` connection for remote `src`, sink into local `target`. */
void legacy_download(struct cli *x, const struct operand *src,
    const char *target);
/* -3 legacy: `scp -f` on src's host wired to `scp -t` on targ's. */
void legacy_relay(struct cli *x, const struct operand *src,
    const struct operand *targ);
/* -R: ssh to src's host running scp there. */
void legacy_remote_remote(struct cli *x, const struct operand *src,
    const struct operand *targ);
/* Ends the upload connection and collects its exit status. */
void legacy_upload_finish(struct cli *x);

/* --- run_sftp.c --------------------------------------------------- */

/*
 * What a session pool (pool.h) is opened with for a connection to
 * `host` (`user`, `port` as for sshargs_connection): the SFTP argv
 * sshargs_connection() builds, the -v trace sshargs_describe() prints,
 * -v and -D from `o`, and SFTP sessions opened with `fo`.  The pool
 * borrows c->pc, which points into `c`: keep `c` where it is, and `o`
 * and `fo` alive, until pool_close(); then sftp_pool_cfg_release().
 */
struct sftp_pool_cfg {
	struct pool_config pc;
	struct strvec argv;		/* owned */
	char *trace;			/* owned, NULL without -v */
	const struct sftp_opts *fo;
};
void sftp_pool_cfg_init(struct sftp_pool_cfg *c, const struct scp_options *o,
    const struct sftp_opts *fo, const char *host, const char *user,
    int port);
void sftp_pool_cfg_release(struct sftp_pool_cfg *c);

void sftp_cli_upload(struct cli *x, const char *src,
    const struct operand *targ);
void sftp_cli_download(struct cli *x, const struct operand *src,
    const char *target);
/* -3 SFTP: the destination session is the upload connection. */
void sftp_cli_relay(struct cli *x, const struct operand *src,
    const struct operand *targ);
void sftp_cli_upload_finish(struct cli *x);

/* --- sshtap.c: the legacy fallback's signal ----------------------- */

/*
 * The automatic fallback (run_sftp.c, doc/scp.1): when the server
 * refuses the sftp subsystem, an operand is retried once with the
 * legacy protocol.  ssh's exit status cannot tell a refused subsystem
 * from a failed login: measured with OpenSSH 9.2's ssh,
 *   sshd without "Subsystem sftp":  255, "subsystem request failed on
 *       channel N" (ssh's fatal(): printed from LogLevel FATAL up,
 *       nothing at all under -q);
 *   Dropbear 2022.83 with its compiled-in /usr/lib/sftp-server missing
 *       (it runs it through the user's shell, as sshd does a Subsystem
 *       path):  127, "sh: 1: /usr/lib/sftp-server: not found" (the
 *       server's stderr, printed under -q too);
 *   a wrong key, refused login, unreachable host:  255, "Permission
 *       denied (publickey)." and the like.
 * Nor can the SFTP stream: every case ends before VERSION.  So the
 * signal is ssh's stderr: the first ssh of an SFTP connection (and the
 * pool's other processes) get as stderr a tap (transport/tap.h), a pipe
 * that a thread forwards to the real stderr, watching for those two
 * lines.  It is asked only when the session died before VERSION (where
 * the run would exit 255, nothing written on either side), after every
 * writer of the pipe is gone (ssh has exited, so all it printed is
 * read) or 2 s passed.
 *
 * Under -q, ssh would print nothing for sshd's refusal: a watched ssh
 * gets -oLogLevel=FATAL instead of -q (sshargs_connection) and the tap
 * drops what ssh prints beyond what `ssh -q` would (sshtap.c,
 * tap_line_quiet), so the user sees the same.  A LogLevel of the
 * user's own (-o) still wins; if it is QUIET, sshd's refusal is not
 * seen and the run ends with 255 as before.
 */

/*
 * A tap for the first ssh of an SFTP connection, or NULL when the
 * fallback is not allowed (sshargs_tapped(): -s, -D) or no pipe or
 * thread could be had (then, under -q, ssh's fatal messages reach the
 * real stderr).  Give tap_fd() to the children, tap_release() it.
 */
struct tap *sftp_tap_open(const struct scp_options *o);
/* 1 if the server refused the subsystem (see above); waits as said
 * there, closing our write end first.  NULL-safe (0). */
int ssh_tap_refused(struct tap *t);

/* --- localcopy.c -------------------------------------------------- */

/* local -> local: our own source and sink over a socketpair. */
void local_copy(struct cli *x, const char *src, const char *target);

#endif
