/*
 * SFTP client flows (PROTOCOL.md section 4), connection handling as
 * OpenSSH 9.2's scp.c toremote()/tolocal() in MODE_SFTP.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../util/err.h"
#include "../util/log.h"
#include "../util/strvec.h"
#include "run.h"
#include "sshargs.h"

/* OpenSSH dies when an SFTP session cannot be set up (sftp_init's
 * message, e.g. "Connection closed", has been printed): exit 255.  A
 * signal during the setup is still a signal: exit 1 (PROTOCOL.md
 * section 1 "Exit status"). */
static void
sftp_setup_failed(void)
{
	cli_child_abort_all();
	exit(cli_interrupted ? 1 : 255);
}

/* Reaps a connection's child: killed first if its session broke. */
static void
sftp_reap(struct cli *x, struct ssh_child *c, int r)
{
	if (r < 0) {
		cli_child_abort(c);
	} else if (cli_child_finish(c) != 0) {
		x->errs++;
	}
}

/*
 * Starts `ssh -s host sftp` (or the -D program) and opens the session.
 * Returns 0, or -1 with the child reaped (message printed).
 */
static int
sftp_connect(struct cli *x, struct ssh_child *c, const struct operand *op,
    struct sftp_session **s)
{
	struct strvec av;
	char *desc;

	strvec_init(&av);
	sshargs_connection(&av, x->o, SSHARGS_SFTP, op->host, op->user,
	    op->port, "sftp");
	if (x->o->verbose) {
		desc = sshargs_describe(x->o, SSHARGS_SFTP, op->host,
		    op->user, "sftp");
		log_plain("%s", desc);
		free(desc);
	}
	if (cli_child_start(c, av.v) == -1) {
		cli_fatal("fork: %s", strerror(errno));
	}
	strvec_clear(&av);
	if (sftp_session_open(s, c->fd, c->fd, &x->fopts) != 0) {
		*s = NULL;
		cli_child_abort(c);
		return -1;
	}
	return 0;
}

/* Opens the connection to the target host on first use. */
static void
sftp_up_connect(struct cli *x, const struct operand *targ)
{
	if (x->up_open) {
		return;
	}
	if (sftp_connect(x, &x->up, targ, &x->upsess) != 0) {
		sftp_setup_failed();
	}
	x->up_open = 1;
}

static void
sftp_count(struct cli *x, int r, int stop_on_broken)
{
	if (r == 0) {
		return;
	}
	x->errs++;
	if (r < 0 && stop_on_broken) {
		x->stop = 1;
	}
}

void
sftp_cli_upload(struct cli *x, const char *src, const struct operand *targ)
{
	int r;

	sftp_up_connect(x, targ);
	r = sftp_upload(x->upsess, src, targ->path, x->o->noperands > 2);
	if (r == SCP_E_SYS) {
		/* OpenSSH fatal()s here (failed MKDIR of a multi-source
		 * target, ~user without expand-path; message printed):
		 * PROTOCOL.md section 1 "Exit status", exit 255. */
		sftp_session_free(x->upsess);
		x->upsess = NULL;
		sftp_setup_failed();
	}
	sftp_count(x, r, 1);
}

void
sftp_cli_upload_finish(struct cli *x)
{
	if (!x->up_open) {
		return;
	}
	sftp_session_free(x->upsess);
	x->upsess = NULL;
	sftp_reap(x, &x->up, x->stop ? -1 : 0);
	x->up_open = 0;
}

void
sftp_cli_download(struct cli *x, const struct operand *src,
    const char *target)
{
	struct sftp_session *s;
	struct ssh_child c;
	int r;

	if (sftp_connect(x, &c, src, &s) != 0) {
		sftp_setup_failed();
	}
	r = sftp_download(s, src->path, target);
	/* Each source has its own connection: a broken one does not stop
	 * the next operand. */
	sftp_count(x, r, 0);
	sftp_session_free(s);
	sftp_reap(x, &c, r);
}

/* Both operands name one endpoint: same user, host and port. */
static int
same_endpoint(const struct operand *a, const struct operand *b)
{
	if ((a->user == NULL) != (b->user == NULL) ||
	    (a->user != NULL && strcmp(a->user, b->user) != 0)) {
		return 0;
	}
	return a->host != NULL && b->host != NULL &&
	    strcmp(a->host, b->host) == 0 && a->port == b->port;
}

void
sftp_cli_relay(struct cli *x, const struct operand *src,
    const struct operand *targ)
{
	struct sftp_session *from;
	struct ssh_child c;
	int r;

	/* Destination first, once; then one origin connection per
	 * operand (OpenSSH's order, visible in the -v trace). */
	sftp_up_connect(x, targ);
	/*
	 * One endpoint and copy-data offered: the server copies within
	 * itself over the one session (docs/protocol-sftp.md).
	 */
	if (x->upsess != NULL && same_endpoint(src, targ) &&
	    sftp_can_copy_data(x->upsess)) {
		r = sftp_crossload(x->upsess, src->path, x->upsess,
		    targ->path, x->o->noperands > 2);
		sftp_count(x, r, 1);
		return;
	}
	if (sftp_connect(x, &c, src, &from) != 0) {
		sftp_setup_failed();
	}
	r = sftp_crossload(from, src->path, x->upsess, targ->path,
	    x->o->noperands > 2);
	sftp_count(x, r, 1);
	sftp_session_free(from);
	sftp_reap(x, &c, r);
}
