/*
 * SFTP client flows (PROTOCOL.md section 4), connection handling as
 * OpenSSH 9.2's scp.c toremote()/tolocal() in MODE_SFTP.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../util/err.h"
#include "../util/log.h"
#include "../util/strvec.h"
#include "../util/xmalloc.h"
#include "pool.h"
#include "run.h"
#include "sshargs.h"

/*
 * Several sessions for one big file (docs/design-speed.md section 3).
 * Automatic: only a file of at least SFTP_AUTO_MIN_SIZE on a link whose
 * measured round trip makes one session window-bound (2 MiB per round
 * trip, PROTOCOL.md section 7) gets more channels, one per
 * SFTP_AUTO_RTT_STEP of round trip, at most SFTP_AUTO_MAX_CHANNELS.
 * Extra connections only when asked (-X connections=): on 2 cores they
 * halved throughput.
 */
#define SFTP_AUTO_MIN_SIZE	(64ULL * 1024 * 1024)
#define SFTP_AUTO_MIN_RTT	10000		/* microseconds */
#define SFTP_AUTO_RTT_STEP	6000		/* microseconds */
#define SFTP_AUTO_MAX_CHANNELS	4
/* Each session should move at least this much of one file. */
#define SFTP_AUTO_PER_SESSION	(16ULL * 1024 * 1024)

/*
 * The sessions to one destination: a pool whose first member is the
 * connection's session.  `lazy`: automatic mode, the first ssh is our
 * private ControlMaster and channels are added when a big file on a long
 * link first needs them.
 */
struct sftp_dest {
	struct cli *x;
	const struct operand *op;
	struct pool pool;
	int lazy;
	int grown;		/* the lazy channels were asked for */
};

/* The upload connection's (x->upsess is its first session). */
static struct sftp_dest up_dest;

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

/* Channels the automatic policy wants for `size` bytes at `rtt_us`. */
static size_t
sftp_auto_channels(uint64_t size, uint32_t rtt_us)
{
	uint64_t n, cap;

	if (size < SFTP_AUTO_MIN_SIZE || rtt_us < SFTP_AUTO_MIN_RTT) {
		return 1;
	}
	n = (rtt_us + SFTP_AUTO_RTT_STEP - 1) / SFTP_AUTO_RTT_STEP;
	cap = size / SFTP_AUTO_PER_SESSION;
	n = n > cap ? cap : n;
	n = n > SFTP_AUTO_MAX_CHANNELS ? SFTP_AUTO_MAX_CHANNELS : n;
	return n < 1 ? 1 : (size_t)n;
}

/*
 * Whether the automatic policy might split a file of this run, so the
 * first ssh should be started as our ControlMaster (private and cheap;
 * channels are only opened for a big file on a long link).  Not when a
 * file could never be split (-D, --resume, --inplace, -l); only for
 * uploads, and only when a source is a big regular file or a directory
 * to recurse.
 */
static int
sftp_auto_possible(const struct cli *x, int upload)
{
	const struct scp_options *o = x->o;
	struct stat st;
	int i;

	if (o->sftp_channels != 0 || o->sftp_connections > 0 ||
	    o->sftp_direct != NULL || o->resume || o->inplace ||
	    o->bwlimit_kbits != 0) {
		return 0;
	}
	/*
	 * Downloads over several channels were not faster in our
	 * measurements (docs/design-speed.md section 4): only -X
	 * channels= splits them.
	 */
	if (!upload) {
		return 0;
	}
	for (i = 0; i + 1 < o->noperands; i++) {
		if (stat(o->operands[i], &st) == -1) {
			continue;
		}
		if ((S_ISREG(st.st_mode) &&
		    (uint64_t)st.st_size >= SFTP_AUTO_MIN_SIZE) ||
		    (S_ISDIR(st.st_mode) && o->recursive)) {
			return 1;
		}
	}
	return 0;
}

/* A member of d's pool started with `role`'s argv (not yet added). */
static struct pool_member *
sftp_dest_start(struct sftp_dest *d, enum pool_role role)
{
	const struct scp_options *o = d->x->o;
	struct pool_member *m;
	struct strvec av;
	char *desc;

	m = xcalloc(1, sizeof(*m));
	m->role = role;
	m->child.pid = -1;
	m->child.fd = -1;
	strvec_init(&av);
	pool_argv(&av, o, role, d->pool.ctlpath, d->op->host, d->op->user,
	    d->op->port);
	if (role == POOL_MASTER && o->verbose) {
		desc = sshargs_describe(o, SSHARGS_SFTP, d->op->host,
		    d->op->user, "sftp");
		log_plain("%s", desc);
		free(desc);
	}
	if (cli_child_start(&m->child, av.v) == -1) {
		cli_fatal("fork: %s", strerror(errno));
	}
	strvec_clear(&av);
	return m;
}

/*
 * Automatic mode: the first session over our private ControlMaster
 * (pool.c's master argv and directory rules), no channels yet.
 */
static int
sftp_dest_master(struct sftp_dest *d)
{
	struct pool_member *m;
	const char *tmp;
	int r;

	tmp = getenv("TMPDIR");
	if (tmp == NULL || tmp[0] != '/' || strlen(tmp) > 48) {
		tmp = "/tmp";
	}
	d->pool.dir = xasprintf("%s/scp-pool.XXXXXXXXXX", tmp);
	if (mkdtemp(d->pool.dir) == NULL) {
		free(d->pool.dir);
		d->pool.dir = NULL;
	} else {
		d->pool.ctlpath = xasprintf("%s/%s", d->pool.dir,
		    POOL_SOCKET_NAME);
	}
	/* Without a directory the argv is the plain one (pool_argv). */
	m = sftp_dest_start(d, POOL_MASTER);
	r = sftp_session_open(&m->sess, m->child.fd, m->child.fd,
	    &d->x->fopts);
	if (r != 0) {
		m->sess = NULL;
		cli_child_abort(&m->child);
		free(m);
		(void)pool_close(&d->pool, 1);
		return r;
	}
	d->pool.m[d->pool.n++] = m;
	d->lazy = d->pool.ctlpath != NULL;
	return 0;
}

/*
 * Adds mux channels until d's pool has `want` sessions: all clients
 * started at once, then SFTP spoken on each; a refused one (MaxSessions)
 * is dropped quietly unless -v, as pool_open() does.
 */
static void
sftp_dest_grow(struct sftp_dest *d, size_t want)
{
	const struct scp_options *o = d->x->o;
	struct pool_member *pend[POOL_MAX];
	struct stat st;
	enum log_level level;
	size_t i, npend = 0;
	int r;

	if (want > POOL_MAX) {
		want = POOL_MAX;
	}
	if (d->pool.ctlpath == NULL || lstat(d->pool.ctlpath, &st) == -1 ||
	    !S_ISSOCK(st.st_mode)) {
		log_debug("pool: no control socket, no mux channels");
		return;
	}
	while (d->pool.n + npend < want && !cli_interrupted) {
		pend[npend++] = sftp_dest_start(d, POOL_MUX);
	}
	for (i = 0; i < npend; i++) {
		level = log_get_level();
		if (!o->verbose) {
			log_init(NULL, LOG_QUIET, log_is_remote());
		}
		r = cli_interrupted ? SCP_E_INTR :
		    sftp_session_open(&pend[i]->sess, pend[i]->child.fd,
		    pend[i]->child.fd, &d->x->fopts);
		log_init(NULL, level, log_is_remote());
		if (r != 0) {
			log_debug("pool: channel refused (%s)",
			    scp_strerror(r));
			pend[i]->sess = NULL;
			cli_child_abort(&pend[i]->child);
			free(pend[i]);
			d->pool.refused++;
			continue;
		}
		d->pool.m[d->pool.n++] = pend[i];
		d->pool.nmux++;
	}
	log_debug("pool: %zu sessions", d->pool.n);
}

/* The peer provider of d's first session (sftp.h). */
static size_t
sftp_peers(void *ctx, struct sftp_session *s, uint64_t size,
    uint32_t rtt_us, struct sftp_session **out, size_t max)
{
	struct sftp_dest *d = ctx;
	size_t want, n = 0, i;

	(void)s;
	if (d->lazy) {
		want = sftp_auto_channels(size, rtt_us);
		log_debug2("pool: %llu bytes, rtt %u us: %zu channels",
		    (unsigned long long)size, rtt_us, want);
		if (want < 2) {
			return 0;
		}
		if (!d->grown && d->pool.n < want) {
			d->grown = 1;
			sftp_dest_grow(d, want);
		}
		max = max > want - 1 ? want - 1 : max;
	}
	for (i = 1; i < d->pool.n && n < max; i++) {
		out[n++] = pool_session(&d->pool, i);
	}
	return n;
}

/*
 * Opens the sessions to `op` as the options say (-X channels= and
 * connections=, else automatic): with one channel and no connection,
 * exactly today's single ssh.  *s is the first session.  Returns 0, or
 * -1 with everything reaped (message printed).
 */
static int
sftp_dest_open(struct cli *x, struct sftp_dest *d, const struct operand *op,
    struct sftp_session **s)
{
	const struct scp_options *o = x->o;
	int r, upload = d == &up_dest;

	memset(d, 0, sizeof(*d));
	d->x = x;
	d->op = op;
	if (sftp_auto_possible(x, upload)) {
		r = sftp_dest_master(d);
	} else {
		r = pool_open(&d->pool, o, &x->fopts, op->host, op->user,
		    op->port, o->sftp_channels > 0 ? o->sftp_channels : 1,
		    o->sftp_connections > 0 ? o->sftp_connections : 0);
	}
	if (r != 0) {
		*s = NULL;
		return -1;
	}
	*s = pool_session(&d->pool, 0);
	if (d->lazy || d->pool.n > 1) {
		sftp_session_set_peers(*s, sftp_peers, d);
	}
	return 0;
}

/* Closes d's sessions, counting ssh failures as errors; `r` < 0: the
 * session broke, kill rather than wait. */
static void
sftp_dest_close(struct cli *x, struct sftp_dest *d, int r)
{
	if (pool_close(&d->pool, r < 0) != 0 && r >= 0) {
		x->errs++;
	}
}

/* Opens the connection to the target host on first use. */
static void
sftp_up_connect(struct cli *x, const struct operand *targ)
{
	if (x->up_open) {
		return;
	}
	if (sftp_dest_open(x, &up_dest, targ, &x->upsess) != 0) {
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
	/* Files still in flight: their errors are counted here. */
	if (!x->stop) {
		sftp_count(x, sftp_upload_flush(x->upsess), 1);
	}
	x->upsess = NULL;
	sftp_dest_close(x, &up_dest, x->stop ? -1 : 0);
	x->up_open = 0;
}

void
sftp_cli_download(struct cli *x, const struct operand *src,
    const char *target)
{
	struct sftp_dest d;
	struct sftp_session *s;
	int r;

	if (sftp_dest_open(x, &d, src, &s) != 0) {
		sftp_setup_failed();
	}
	r = sftp_download(s, src->path, target);
	if (r < 0 && r != SCP_E_INTR && sftp_session_broken_early(s)) {
		/* As when it fails inside sftp_session_open(). */
		sftp_setup_failed();
	}
	/* Each source has its own connection: a broken one does not stop
	 * the next operand. */
	sftp_count(x, r, 0);
	sftp_dest_close(x, &d, r);
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
