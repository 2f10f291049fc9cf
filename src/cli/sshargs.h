/*
 * The argv vectors of the ssh processes we start (PROTOCOL.md section 3)
 * and the remote scp command of the legacy protocol (section 2, "Remote
 * command").  Pure: build into a caller-owned strvec, nothing run.
 */
#ifndef SCP_CLI_SSHARGS_H
#define SCP_CLI_SSHARGS_H

#include "../util/strvec.h"
#include "operand.h"
#include "options.h"

/* What the connection is for. */
enum sshargs_kind {
	SSHARGS_SFTP,		/* -s ... host sftp */
	SSHARGS_LEGACY,		/* host "scp ... -t|-f path" */
	SSHARGS_LEGACY_2ND,	/* -3 legacy second host: + -oBatchMode=yes */
};

/*
 * The remote command "scp [-v] [-r] [-p] [-d] -t|-f [-- ]PATH" as one
 * string (PATH unquoted: the remote shell expands it; "-- " only when it
 * starts with '-').  `flag` is 't' or 'f'.  Caller frees.
 */
char *sshargs_scp_command(const struct scp_options *o, int flag,
    const char *path);

/*
 * Appends the whole argv of one connection to `out` (which should be
 * empty):
 *   program -x -oPermitLocalCommand=no -oClearAllForwardings=yes
 *   -oRemoteCommand=none -oRequestTTY=no <user options>
 *   -oForwardAgent=no [-p PORT] [-l USER] [-oBatchMode=yes] [-s]
 *   -- HOST COMMAND
 * With SSHARGS_SFTP and sshargs_tap_quiet(), -q is left out of the
 * user options and -oLogLevel=FATAL follows them (so a LogLevel the
 * user gave with -o comes first, and wins).
 * `port` -1 means o->port (-P) if given.  `command` is "sftp" for
 * SSHARGS_SFTP, else a sshargs_scp_command() string.  With -D
 * (o->sftp_direct) and SSHARGS_SFTP the argv is OpenSSH's
 * "path [-p PORT] -- HOST sftp" instead.
 */
void sshargs_connection(struct strvec *out, const struct scp_options *o,
    enum sshargs_kind kind, const char *host, const char *user, int port,
    const char *command);

/*
 * Whether an SFTP connection's ssh is watched for the legacy fallback
 * (run.h, sftp_tap_open): not with -s (the user asked for SFTP) nor -D
 * (a local program, no subsystem).
 */
int sshargs_tapped(const struct scp_options *o);

/*
 * Whether a watched ssh gets -oLogLevel=FATAL in place of -q (run.h):
 * when sshargs_tapped() and ssh would have been quiet, i.e. -q is in
 * the ssh options and no -v after it (ssh's -v after -q turns debug
 * output back on, which then shows as today).
 */
int sshargs_tap_quiet(const struct scp_options *o);

/*
 * The "Executing: ..." line OpenSSH prints with -v for a connection
 * (without the newline).  Caller frees.
 */
char *sshargs_describe(const struct scp_options *o, enum sshargs_kind kind,
    const char *host, const char *user, const char *command);

/*
 * The -R argv: program -x -oClearAllForwardings=yes -n <user options>
 * [-p PORT] [-l USER] -- HOST1 "scp [-v] [-r] [-p] [-d]" [--] SRC
 * "[tuser@]host2:targ".  `src` and `dst` are parsed remote operands.
 * Unlike OpenSSH, -P (or the source URI's port) is honoured for host1
 * and an IPv6 host2 keeps its brackets.
 */
void sshargs_remote_remote(struct strvec *out, const struct scp_options *o,
    const struct operand *src, const struct operand *dst);

#endif
