/*
 * ssh argv construction, PROTOCOL.md section 3.
 */
#include "sshargs.h"

#include <stdlib.h>
#include <string.h>

#include "../util/xmalloc.h"

/* "scp [-v] [-r] [-p] [-d]": the prefix of every remote scp command. */
static char *
scp_prefix(const struct scp_options *o)
{
	return xasprintf("scp%s%s%s%s", o->verbose ? " -v" : "",
	    o->recursive ? " -r" : "", o->preserve ? " -p" : "",
	    o->target_dir ? " -d" : "");
}

char *
sshargs_scp_command(const struct scp_options *o, int flag,
    const char *path)
{
	char *prefix, *cmd;

	prefix = scp_prefix(o);
	cmd = xasprintf("%s -%c %s%s", prefix, flag,
	    path[0] == '-' ? "-- " : "", path);
	free(prefix);
	return cmd;
}

/* Whether ssh option `arg` of o->ssh_args is followed by its value
 * there (options.c pushes -o -c -i -F -J and their values apart): the
 * value, even "-q", is not an option. */
static int
sshargs_has_value(const char *arg)
{
	return arg[0] == '-' && arg[1] != '\0' && arg[2] == '\0' &&
	    strchr("ociFJ", arg[1]) != NULL;
}

/*
 * The user's ssh options without -q, then -oLogLevel=FATAL: the level
 * at which ssh still prints the subsystem's refusal (clientloop.c
 * fatal()s it) and nothing that -q hides but its fatal messages, which
 * the tap drops (run.h).  After the user's options, so their own
 * LogLevel wins (ssh keeps the first value it sees).
 */
static void
sshargs_push_unquiet(struct strvec *out, const struct strvec *args)
{
	size_t i;

	for (i = 0; i < args->n; i++) {
		if (sshargs_has_value(args->v[i]) && i + 1 < args->n) {
			strvec_push(out, args->v[i++]);
			strvec_push(out, args->v[i]);
		} else if (strcmp(args->v[i], "-q") != 0) {
			strvec_push(out, args->v[i]);
		}
	}
	strvec_push(out, "-oLogLevel=FATAL");
}

int
sshargs_tapped(const struct scp_options *o)
{
	return !o->mode_forced && o->sftp_direct == NULL;
}

int
sshargs_tap_quiet(const struct scp_options *o)
{
	size_t i;
	int quiet = 0;

	if (!sshargs_tapped(o)) {
		return 0;
	}
	/* ssh takes -q and -v in order: the last one decides. */
	for (i = 0; i < o->ssh_args.n; i++) {
		if (sshargs_has_value(o->ssh_args.v[i])) {
			i++;
		} else if (strcmp(o->ssh_args.v[i], "-q") == 0) {
			quiet = 1;
		} else if (strcmp(o->ssh_args.v[i], "-v") == 0) {
			quiet = 0;
		}
	}
	return quiet;
}

void
sshargs_connection(struct strvec *out, const struct scp_options *o,
    enum sshargs_kind kind, const char *host, const char *user, int port,
    const char *command)
{
	if (kind == SSHARGS_SFTP && o->sftp_direct != NULL) {
		/* OpenSSH's do_sftp_connect(): no user, no ssh options, and
		 * port -1, which do_cmd() turns into -P's port: an operand's
		 * port never reaches the program (sftp-server would read it
		 * as its allow-list of requests). */
		strvec_push(out, o->sftp_direct);
		if (o->port != -1) {
			strvec_push(out, "-p");
			strvec_pushf(out, "%d", o->port);
		}
		strvec_push(out, "--");
		strvec_push(out, host);
		strvec_push(out, "sftp");
		return;
	}
	if (port == -1) {
		port = o->port;
	}
	strvec_push(out, o->ssh_program);
	strvec_push(out, "-x");
	strvec_push(out, "-oPermitLocalCommand=no");
	strvec_push(out, "-oClearAllForwardings=yes");
	strvec_push(out, "-oRemoteCommand=none");
	strvec_push(out, "-oRequestTTY=no");
	if (kind == SSHARGS_SFTP && sshargs_tap_quiet(o)) {
		sshargs_push_unquiet(out, &o->ssh_args);
	} else {
		strvec_pushv(out, &o->ssh_args);
	}
	/* Last, so an earlier -A or -oForwardAgent=yes wins (ssh keeps the
	 * first value it sees). */
	strvec_push(out, "-oForwardAgent=no");
	if (port != -1) {
		strvec_push(out, "-p");
		strvec_pushf(out, "%d", port);
	}
	if (user != NULL) {
		strvec_push(out, "-l");
		strvec_push(out, user);
	}
	if (kind == SSHARGS_LEGACY_2ND) {
		strvec_push(out, "-oBatchMode=yes");
	}
	if (kind == SSHARGS_SFTP) {
		strvec_push(out, "-s");
	}
	strvec_push(out, "--");
	strvec_push(out, host);
	strvec_push(out, command);
}

char *
sshargs_describe(const struct scp_options *o, enum sshargs_kind kind,
    const char *host, const char *user, const char *command)
{
	const char *program;

	if (kind == SSHARGS_SFTP && o->sftp_direct != NULL) {
		program = o->sftp_direct;
		user = NULL;
	} else {
		program = o->ssh_program;
	}
	return xasprintf("Executing: %sprogram %s host %s, user %s, "
	    "command %s", kind == SSHARGS_LEGACY_2ND ? "2nd " : "",
	    program, host, user != NULL ? user : "(unspecified)", command);
}

void
sshargs_remote_remote(struct strvec *out, const struct scp_options *o,
    const struct operand *src, const struct operand *dst)
{
	const char *lb, *rb;
	char *prefix;
	int port;

	strvec_push(out, o->ssh_program);
	strvec_push(out, "-x");
	strvec_push(out, "-oClearAllForwardings=yes");
	strvec_push(out, "-n");
	strvec_pushv(out, &o->ssh_args);
	port = src->port != -1 ? src->port : o->port;
	if (port != -1) {
		strvec_push(out, "-p");
		strvec_pushf(out, "%d", port);
	}
	if (src->user != NULL) {
		strvec_push(out, "-l");
		strvec_push(out, src->user);
	}
	strvec_push(out, "--");
	strvec_push(out, src->host);
	prefix = scp_prefix(o);
	strvec_push(out, prefix);
	free(prefix);
	/* Host1's scp would read a leading '-' as an option. */
	if (src->path[0] == '-') {
		strvec_push(out, "--");
	}
	strvec_push(out, src->path);
	lb = rb = "";
	if (strchr(dst->host, ':') != NULL) {
		lb = "[";
		rb = "]";
	}
	strvec_pushf(out, "%s%s%s%s%s:%s", dst->user != NULL ? dst->user : "",
	    dst->user != NULL ? "@" : "", lb, dst->host, rb, dst->path);
}
