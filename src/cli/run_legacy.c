/*
 * Legacy (SCP/RCP) client flows: PROTOCOL.md section 2 for the wire,
 * section 3 for the processes.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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

/*
 * --timeout with -3: the two connections are relayed through us so that
 * a side that stops talking is noticed.  Bytes flow both ways (data one
 * way, acks the other); an end of file on one side is passed on as a
 * shutdown of the other.  0 when both sides ended, -1 on a timeout, an
 * interrupt or an error (message printed).
 */
static int
legacy_relay_fds(int a, int b)
{
	struct pollfd p[2];
	unsigned char buf[16384];
	int fd[2] = { a, b }, eof[2] = { 0, 0 }, i, r;
	ssize_t n;

	while (!eof[0] || !eof[1]) {
		for (i = 0; i < 2; i++) {
			p[i].fd = eof[i] ? -1 : fd[i];
			p[i].events = POLLIN;
			p[i].revents = 0;
		}
		r = poll(p, 2, (int)io_get_timeout() * 1000);
		if (io_cancelled()) {
			return -1;
		}
		if (r == 0) {
			log_error("relay: no data for %u s: %s",
			    io_get_timeout(), strerror(ETIMEDOUT));
			return -1;
		}
		if (r < 0) {
			if (errno == EINTR) {
				continue;
			}
			log_error("relay: poll: %s", strerror(errno));
			return -1;
		}
		for (i = 0; i < 2; i++) {
			if (eof[i] || p[i].revents == 0) {
				continue;
			}
			n = read(fd[i], buf, sizeof(buf));
			if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
				continue;
			}
			if (n <= 0) {
				eof[i] = 1;
				(void)shutdown(fd[1 - i], SHUT_WR);
				continue;
			}
			if (!eof[1 - i] &&
			    io_write_full(fd[1 - i], buf, (size_t)n) != 0) {
				log_error("relay: %s", strerror(errno));
				return -1;
			}
		}
	}
	return 0;
}

void
legacy_relay(struct cli *x, const struct operand *src,
    const struct operand *targ)
{
	struct ssh_child c1, c2;
	int s1, s2;

	if (io_get_timeout() > 0) {
		legacy_start(x, &c1, SSHARGS_LEGACY, src, 'f', src->path, -1);
		legacy_start(x, &c2, SSHARGS_LEGACY_2ND, targ, 't',
		    targ->path, -1);
		if (legacy_relay_fds(c1.fd, c2.fd) != 0) {
			x->errs++;
			x->stop = 1;
			children_abort(&c2);
			children_abort(&c1);
			return;
		}
		s2 = children_finish(&c2);
		s1 = children_finish(&c1);
		if (s1 != 0 || s2 != 0) {
			x->errs++;
		}
		return;
	}
	/* The local scp only waits: the two remote scps talk directly
	 * (PROTOCOL.md section 3, "-3 legacy"). */
	legacy_start(x, &c1, SSHARGS_LEGACY, src, 'f', src->path, -1);
	legacy_start(x, &c2, SSHARGS_LEGACY_2ND, targ, 't', targ->path,
	    c1.fd);
	close(c1.fd);
	c1.fd = -1;
	s2 = children_finish(&c2);
	s1 = children_finish(&c1);
	if (s1 != 0 || s2 != 0) {
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
