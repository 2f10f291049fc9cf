/*
 * Legacy (SCP/RCP) client flows: PROTOCOL.md section 2 for the wire,
 * section 3 for the processes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../proto/scp/relay.h"
#include "../transport/io.h"
#include "../util/err.h"
#include "../util/log.h"
#include "../util/strvec.h"
#include "run.h"
#include "sshargs.h"

/*
 * Starts ssh for `op`'s host running the remote scp with -t or -f.
 * Exits 255 if the process cannot be started (OpenSSH's do_cmd fatal).
 */
static void
legacy_start(struct cli *x, struct ssh_child *c, enum sshargs_kind kind,
    const struct operand *op, int flag, const char *path, int in)
{
	struct strvec av;
	char *cmd, *desc;
	int r;

	cmd = sshargs_scp_command(x->o, flag, path);
	strvec_init(&av);
	sshargs_connection(&av, x->o, kind, op->host, op->user, op->port,
	    cmd);
	if (x->o->verbose) {
		desc = sshargs_describe(x->o, kind, op->host, op->user, cmd);
		log_plain("%s", desc);
		free(desc);
	}
	if (in == -1) {
		r = children_start(c, av.v);
	} else {
		r = children_start_fds(c, av.v, in, in);
	}
	if (r == -1) {
		cli_fatal("fork: %s", strerror(errno));
	}
	strvec_clear(&av);
	free(cmd);
}

/* A negative source return: the connection is gone; the engine has
 * said so ("lost connection", OpenSSH's lostconn). */
static void
legacy_source_broken(struct cli *x, int r)
{
	(void)r;
	x->errs++;
	x->stop = 1;
}

void
legacy_upload(struct cli *x, const char *src, const struct operand *targ)
{
	int r;

	if (!x->up_open) {
		legacy_start(x, &x->up, SSHARGS_LEGACY, targ, 't',
		    targ->path, -1);
		x->up_open = 1;
		scp_conn_init(&x->upconn, x->up.fd, x->up.fd, &x->sopts);
		r = scp_source_start(&x->upconn);
		/* A \1 instead of the ready byte (e.g. -d and the target is
		 * not a directory) ends the upload too: OpenSSH exits. */
		if (r < 0 || x->upconn.errs != 0) {
			legacy_source_broken(x, r);
			return;
		}
	}
	if (x->stop) {
		return;
	}
	if ((r = scp_source_send(&x->upconn, src)) < 0) {
		legacy_source_broken(x, r);
	}
}

void
legacy_upload_finish(struct cli *x)
{
	if (!x->up_open) {
		return;
	}
	x->errs += x->upconn.errs;
	if (x->stop) {
		children_abort(&x->up);
	} else if (children_finish(&x->up) != 0) {
		x->errs++;
	}
	x->up_open = 0;
}

void
legacy_download(struct cli *x, const struct operand *src,
    const char *target)
{
	struct ssh_child c;
	struct scp_conn conn;
	int r;

	legacy_start(x, &c, SSHARGS_LEGACY, src, 'f', src->path, -1);
	scp_conn_init(&conn, c.fd, c.fd, &x->sopts);
	r = scp_sink(&conn, target, src->path);
	x->errs += conn.errs;
	if (r < 0) {
		/* OpenSSH's sink exits here (protocol error, lost
		 * connection): no later operand is tried. */
		x->errs++;
		x->stop = 1;
		children_abort(&c);
	} else if (children_finish(&c) != 0) {
		x->errs++;
	}
}

/* The relay's watch prints what either remote scp reports (relay.h). */
static void
relay_msg(void *ctx, const char *text)
{
	(void)ctx;
	log_plain("%s", text);
}

void
legacy_relay(struct cli *x, const struct operand *src,
    const struct operand *targ)
{
	struct scp_relay_watch w;
	struct ssh_child c1, c2;
	int s1, s2;

	/*
	 * OpenSSH lets the two remote scps talk directly; relaying here
	 * costs a copy but lets the watch print their error records,
	 * which the remote sink never prints (docs/SAFETY.md "Failures").
	 */
	legacy_start(x, &c1, SSHARGS_LEGACY, src, 'f', src->path, -1);
	legacy_start(x, &c2, SSHARGS_LEGACY_2ND, targ, 't', targ->path, -1);
	scp_relay_watch_init(&w, relay_msg, NULL);
	if (scp_relay_run(c1.fd, c2.fd, io_get_timeout(), &w) != 0) {
		x->errs++;
		x->stop = 1;
		children_abort(&c2);
		children_abort(&c1);
		return;
	}
	s2 = children_finish(&c2);
	s1 = children_finish(&c1);
	if (s1 != 0 || s2 != 0 || w.errs > 0) {
		x->errs++;
	}
}

void
legacy_remote_remote(struct cli *x, const struct operand *src,
    const struct operand *targ)
{
	struct ssh_child c;
	struct strvec av;

	if (targ->port != -1 && targ->port != 22) {
		/* The remote scp would need to understand URIs. */
		cli_fatal("target port not supported with two remote hosts "
		    "and the -R option");
	}
	strvec_init(&av);
	sshargs_remote_remote(&av, x->o, src, targ);
	cli_trace_argv(x->o, av.v);
	if (children_start_fds(&c, av.v, STDIN_FILENO,
	    STDOUT_FILENO) == -1) {
		cli_fatal("fork: %s", strerror(errno));
	}
	strvec_clear(&av);
	if (children_finish(&c) != 0) {
		x->errs++;
	}
}
