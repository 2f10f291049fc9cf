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
#include "../xfer/xfer.h"
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
#define SFTP_AUTO_MAX_CHANNELS	POOL_MAX
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
	struct sftp_pool_cfg cfg;	/* what `pool` was opened with */
	struct pool pool;
	int lazy;
	int probed;		/* the probe channel was started */
	size_t asked;		/* most sessions the policy asked for */
	struct tap *tap;	/* the first ssh's stderr, or NULL */
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
	children_abort_all();
	cli_exit(cli_interrupted ? 1 : 255);
}

/*
 * The automatic legacy fallback (issue 16; the signal and what was
 * measured are in run.h above sftp_tap_open()).  Not with -s (the user
 * asked for SFTP), not with -D (a local program, no subsystem): no tap
 * then (sftp_tap_open).  Only where the run would otherwise exit 255
 * because the first session died before VERSION: no byte of any file
 * was written on either side.
 *
 * 1 when the connection `t` watched was refused the sftp subsystem: the
 * rest of the run uses the legacy protocol (the caller retries its
 * operand), said once (not under -q).  Waits for ssh's last words
 * first, so call it before the children are killed.
 */
static int
sftp_fallback(struct cli *x, struct tap *t)
{
	static int said;

	if (t == NULL || cli_interrupted || !ssh_tap_refused(t)) {
		return 0;
	}
	x->o->mode = SCP_MODE_LEGACY;
	if (!said && !x->o->quiet) {
		log_error("the server has no SFTP subsystem; retrying with "
		    "the legacy SCP protocol (-O)");
	}
	said = 1;
	return 1;
}

/* Reaps a connection's child: killed first if its session broke. */
static void
sftp_reap(struct cli *x, struct ssh_child *c, int r)
{
	if (r < 0) {
		children_abort(c);
	} else if (children_finish(c) != 0) {
		x->errs++;
	}
}

/*
 * Starts `ssh -s host sftp` (or the -D program) and opens the session.
 * Returns 0, or -1 with the child reaped (message printed).
 */
static int
sftp_connect(struct cli *x, struct ssh_child *c, const struct operand *op,
    struct sftp_session **s, struct tap **tap)
{
	struct strvec av;
	char *desc;
	int r;

	strvec_init(&av);
	sshargs_connection(&av, x->o, SSHARGS_SFTP, op->host, op->user,
	    op->port, "sftp");
	if (x->o->verbose) {
		desc = sshargs_describe(x->o, SSHARGS_SFTP, op->host,
		    op->user, "sftp");
		log_plain("%s", desc);
		free(desc);
	}
	*tap = sftp_tap_open(x->o);
	r = children_start_err(c, av.v, *tap != NULL ? tap_fd(*tap) : -1);
	/* ssh has it now: EOF once it exited. */
	if (*tap != NULL) {
		tap_close_writer(*tap);
	}
	if (r == -1) {
		cli_fatal("fork: %s", strerror(errno));
	}
	strvec_clear(&av);
	if (sftp_session_open(s, c->fd, c->fd, &x->fopts) != 0) {
		*s = NULL;
		/* ssh's last words first (the tap keeps the verdict). */
		(void)ssh_tap_refused(*tap);
		children_abort(c);
		return -1;
	}
	return 0;
}

/* The pool's session callbacks (pool.h): `ctx` is the sftp_pool_cfg;
 * `open` is sftp_session_open() or sftp_session_start(). */
static int
sftp_pool_session(int (*open)(struct sftp_session **, int, int,
    const struct sftp_opts *), void *ctx, int fd, void **sess)
{
	const struct sftp_pool_cfg *c = ctx;
	struct sftp_session *s;
	int r;

	if ((r = open(&s, fd, fd, c->fo)) != 0) {
		return r;
	}
	*sess = s;
	return 0;
}

static int
sftp_pool_session_open(void *ctx, int fd, void **sess)
{
	return sftp_pool_session(sftp_session_open, ctx, fd, sess);
}

static int
sftp_pool_session_start(void *ctx, int fd, void **sess)
{
	return sftp_pool_session(sftp_session_start, ctx, fd, sess);
}

static void
sftp_pool_session_free(void *ctx, void *sess)
{
	(void)ctx;
	sftp_session_free(sess);
}

void
sftp_pool_cfg_init(struct sftp_pool_cfg *c, const struct scp_options *o,
    const struct sftp_opts *fo, const char *host, const char *user,
    int port)
{
	memset(c, 0, sizeof(*c));
	strvec_init(&c->argv);
	sshargs_connection(&c->argv, o, SSHARGS_SFTP, host, user, port,
	    "sftp");
	if (o->verbose) {
		c->trace = sshargs_describe(o, SSHARGS_SFTP, host, user,
		    "sftp");
	}
	c->fo = fo;
	c->pc.err_fd = -1;
	c->pc.argv = &c->argv;
	c->pc.ssh_args = &o->ssh_args;
	c->pc.trace = c->trace;
	c->pc.verbose = o->verbose;
	c->pc.direct = o->sftp_direct != NULL;
	c->pc.session_open = sftp_pool_session_open;
	c->pc.session_start = sftp_pool_session_start;
	c->pc.session_free = sftp_pool_session_free;
	c->pc.session_ctx = c;
}

void
sftp_pool_cfg_release(struct sftp_pool_cfg *c)
{
	strvec_clear(&c->argv);
	free(c->trace);
	c->trace = NULL;
	c->pc.trace = NULL;
}

/* Channels the automatic policy wants for `size` bytes at `rtt_us`. */
static size_t
sftp_auto_channels(uint64_t size, uint32_t rtt_us)
{
	uint64_t n, cap;

	if (size < SFTP_AUTO_MIN_SIZE || rtt_us < SFTP_AUTO_MIN_RTT) {
		return 1;
	}
	n = ((uint64_t)rtt_us + SFTP_AUTO_RTT_STEP - 1) / SFTP_AUTO_RTT_STEP;
	cap = size / SFTP_AUTO_PER_SESSION;
	n = n > cap ? cap : n;
	n = n > SFTP_AUTO_MAX_CHANNELS ? SFTP_AUTO_MAX_CHANNELS : n;
	return n < 1 ? 1 : (size_t)n;
}

/*
 * Whether the automatic policy might split a file of this run, so the
 * first ssh should be started as our ControlMaster (private and cheap;
 * channels are only used for a big file on a long link).  Not when a
 * file could never be split (-D, --resume, --inplace, -l).  Uploads:
 * only when a source is a big regular file (returns the biggest size)
 * or a directory to recurse (returns 1).  Downloads: sizes are not
 * known yet, always possible (returns 1).  0: not possible.
 */
static uint64_t
sftp_auto_possible(const struct cli *x, int upload)
{
	const struct scp_options *o = x->o;
	struct stat st;
	uint64_t big = 0;
	int i;

	if (o->sftp_channels != 0 || o->sftp_connections > 0 ||
	    o->sftp_direct != NULL || o->resume || o->inplace ||
	    o->bwlimit_kbits != 0) {
		return 0;
	}
	if (!upload) {
		return 1;
	}
	for (i = 0; i + 1 < o->noperands; i++) {
		if (stat(o->operands[i], &st) == -1) {
			continue;
		}
		if (S_ISREG(st.st_mode) &&
		    (uint64_t)st.st_size >= SFTP_AUTO_MIN_SIZE &&
		    (uint64_t)st.st_size > big) {
			big = (uint64_t)st.st_size;
		} else if (S_ISDIR(st.st_mode) && o->recursive && big == 0) {
			big = 1;
		}
	}
	return big;
}

/* The peer provider of d's first session (sftp.h).  multi.c asks
 * again while a file is under way, so channels still opening join as
 * they become ready; this never waits.  Returning only `s` itself means
 * "split, but no channel is ready yet". */
static size_t
sftp_peers(void *ctx, struct sftp_session *s, uint64_t size,
    uint32_t rtt_us, struct sftp_session **out, size_t max)
{
	struct sftp_dest *d = ctx;
	size_t want, n = 0, i;
	uint32_t rtt, probe;

	(void)pool_collect(&d->pool, POOL_WAIT_NONE);
	if (d->lazy) {
		if (sftp_auto_channels(size, rtt_us) < 2) {
			return 0;
		}
		/*
		 * The first file worth splitting: the probe starts now,
		 * with the channels the session's own round trip asks for,
		 * each going on only if the probe's agrees.
		 */
		if (!d->probed) {
			d->probed = 1;
			pool_grow_auto(&d->pool,
			    sftp_auto_channels(size, rtt_us),
			    SFTP_AUTO_MIN_RTT, SFTP_AUTO_RTT_STEP, 0);
		}
		/*
		 * The lower of the first session's limits query and the
		 * probe channel's open: one delay of a loaded machine in
		 * either must not pass for a long link.  Not measured yet:
		 * the probe is opening, the answer below is "split, none
		 * ready" (asked again).
		 */
		if (pool_probe_rtt(&d->pool, &probe)) {
			rtt = probe != 0 && probe < rtt_us ? probe : rtt_us;
			want = sftp_auto_channels(size, rtt);
			if (want > d->asked) {
				log_debug2("pool: %llu bytes, rtt %u us: %zu "
				    "channels", (unsigned long long)size, rtt,
				    want);
				d->asked = want;
				pool_grow(&d->pool, want);
				(void)pool_collect(&d->pool, POOL_WAIT_NONE);
			}
			if (want < 2) {
				return 0;
			}
			max = max > want - 1 ? want - 1 : max;
		}
	}
	for (i = 1; i < d->pool.n && n < max; i++) {
		out[n++] = pool_session(&d->pool, i);
	}
	if (n == 0 && d->lazy && max > 0 && pool_opening(&d->pool)) {
		/* "Split, but none is ready yet": `s` itself (multi.c
		 * starts alone and asks again). */
		out[n++] = s;
	}
	return n;
}

/*
 * Opens the sessions to `op` as the options say (-X channels= and
 * connections=, else automatic): with one channel and no connection,
 * exactly today's single ssh.  *s is the first session.  Returns 0, or
 * -1 with everything reaped (message printed).  A fork that fails is
 * fatal (exit 255), as for every connection.
 */
static int
sftp_dest_open(struct cli *x, struct sftp_dest *d, const struct operand *op,
    struct sftp_session **s)
{
	const struct scp_options *o = x->o;
	uint64_t big;
	int r, logfd = -1, upload = d == &up_dest;

	memset(d, 0, sizeof(*d));
	d->x = x;
	d->op = op;
	sftp_pool_cfg_init(&d->cfg, o, &x->fopts, op->host, op->user,
	    op->port);
	/* The pool's processes write to the tap; so do our messages while
	 * it opens (for a pool that waits for VERSION, until it came), so
	 * that ssh's last words and ours keep their order. */
	if ((d->tap = sftp_tap_open(o)) != NULL) {
		d->cfg.pc.err_fd = tap_fd(d->tap);
		logfd = log_set_fd(tap_fd(d->tap));
	}
	if ((big = sftp_auto_possible(x, upload)) > 0) {
		r = pool_open_master(&d->pool, &d->cfg.pc);
		d->lazy = r == 0 && d->pool.ctlpath != NULL;
		/*
		 * An upload that knows its biggest file starts the probe
		 * channel now, while the first session looks at the
		 * operands, with the channels that file may need, each
		 * going on only if the probe's round trip asks for it:
		 * they are ready when the file starts.  A download or a
		 * tree may hold no big file: the probe and its channels
		 * start when one is found (sftp_peers) and join while it
		 * is copied.  Opening nine for 300 small files over a
		 * 50 ms link cost 0.15 s; the probe alone, 0.03-0.06 s.
		 * The probe does not wait for our VERSION: it connects as
		 * soon as the master's socket appears (logged in), so the
		 * channels open while the first session starts (three
		 * round trips sooner on a 50 ms link).
		 */
		if (d->lazy && big > 1) {
			d->probed = 1;
			pool_grow_auto(&d->pool,
			    sftp_auto_channels(big, UINT32_MAX),
			    SFTP_AUTO_MIN_RTT, SFTP_AUTO_RTT_STEP, 1);
		}
	} else {
		r = pool_open(&d->pool, &d->cfg.pc,
		    o->sftp_channels > 0 ? o->sftp_channels : 1,
		    o->sftp_connections > 0 ? o->sftp_connections : 0);
	}
	if (d->tap != NULL) {
		(void)log_set_fd(logfd);
		/* No process is started later (pool.h): EOF once they
		 * exited. */
		d->cfg.pc.err_fd = -1;
		tap_close_writer(d->tap);
	}
	if (r == SCP_E_SPAWN) {
		cli_fatal("fork: %s", strerror(errno));
	}
	if (r != 0) {
		/* d->tap stays for the caller's sftp_fallback(). */
		sftp_pool_cfg_release(&d->cfg);
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
	sftp_pool_cfg_release(&d->cfg);
	tap_release(d->tap);
	d->tap = NULL;
}

/*
 * Opens the connection to the target host on first use.  Returns 0, or
 * 1 when the server refused the subsystem and the run fell back to the
 * legacy protocol (the caller retries its operand with it).
 */
static int
sftp_up_connect(struct cli *x, const struct operand *targ)
{
	if (x->up_open) {
		return 0;
	}
	if (sftp_dest_open(x, &up_dest, targ, &x->upsess) != 0) {
		if (sftp_fallback(x, up_dest.tap)) {
			tap_release(up_dest.tap);
			up_dest.tap = NULL;
			return 1;
		}
		sftp_setup_failed();
	}
	x->up_open = 1;
	return 0;
}

/*
 * The upload connection died early: 1 if its server refused the
 * subsystem, the connection closed and the run now legacy.
 */
static int
sftp_up_fallback(struct cli *x)
{
	if (!sftp_fallback(x, up_dest.tap)) {
		return 0;
	}
	x->upsess = NULL;
	sftp_dest_close(x, &up_dest, -1);
	x->up_open = 0;
	return 1;
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

	if (sftp_up_connect(x, targ) != 0) {
		legacy_upload(x, src, targ);
		return;
	}
	r = sftp_upload(x->upsess, src, targ->path, x->o->noperands > 2);
	if (r != SCP_E_SYS && r < 0 && r != SCP_E_INTR &&
	    sftp_session_broken_early(x->upsess) && sftp_up_fallback(x)) {
		legacy_upload(x, src, targ);
		return;
	}
	if (r == SCP_E_SYS || (r < 0 && r != SCP_E_INTR &&
	    sftp_session_broken_early(x->upsess))) {
		/* OpenSSH fatal()s here (failed MKDIR of a multi-source
		 * target, ~user without expand-path; message printed), and
		 * when the session fails before it is set up (VERSION or
		 * the limits reply, which we do not wait for at connect):
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
		if (sftp_fallback(x, d.tap)) {
			tap_release(d.tap);
			legacy_download(x, src, target);
			return;
		}
		sftp_setup_failed();
	}
	r = sftp_download(s, src->path, target);
	if (r < 0 && r != SCP_E_INTR && sftp_session_broken_early(s)) {
		if (sftp_fallback(x, d.tap)) {
			sftp_dest_close(x, &d, -1);
			legacy_download(x, src, target);
			return;
		}
		/* As when it fails inside sftp_session_open(). */
		sftp_setup_failed();
	}
	/* Each source has its own connection: a broken one does not stop
	 * the next operand. */
	sftp_count(x, r, 0);
	sftp_dest_close(x, &d, r);
}

/* The run fell back to legacy with the upload connection open (-3:
 * the origin refused SFTP, the target did not): what it carries is
 * finished, then it is closed. */
static void
sftp_up_drop(struct cli *x)
{
	int r;

	if (!x->up_open) {
		return;
	}
	/* A target refused too shows here (its session dies before
	 * VERSION): no error of its own, the legacy relay follows. */
	r = sftp_upload_flush(x->upsess);
	if (r < 0 && sftp_session_broken_early(x->upsess)) {
		r = -1;
	} else {
		sftp_count(x, r, 1);
	}
	x->upsess = NULL;
	sftp_dest_close(x, &up_dest, r < 0 || x->stop ? -1 : 0);
	x->up_open = 0;
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
	struct tap *tap;
	int r;

	/* Destination first, once; then one origin connection per
	 * operand (OpenSSH's order, visible in the -v trace). */
	if (sftp_up_connect(x, targ) != 0) {
		legacy_relay(x, src, targ);
		return;
	}
	/*
	 * One endpoint and copy-data offered: the server copies within
	 * itself over the one session (docs/protocol-sftp.md).
	 */
	if (x->upsess != NULL && same_endpoint(src, targ) &&
	    sftp_can_copy_data(x->upsess)) {
		r = xfer_relay(x->upsess, src->path, x->upsess,
		    targ->path, x->o->noperands > 2);
		sftp_count(x, r, 1);
		return;
	}
	if (sftp_connect(x, &c, src, &from, &tap) != 0) {
		if (sftp_fallback(x, tap)) {
			/* The whole run is legacy now, this target too. */
			tap_release(tap);
			sftp_up_drop(x);
			legacy_relay(x, src, targ);
			return;
		}
		sftp_setup_failed();
	}
	tap_release(tap);
	r = xfer_relay(from, src->path, x->upsess, targ->path,
	    x->o->noperands > 2);
	if (r < 0 && r != SCP_E_INTR &&
	    sftp_session_broken_early(x->upsess)) {
		sftp_session_free(from);
		sftp_reap(x, &c, r);
		if (sftp_up_fallback(x)) {
			legacy_relay(x, src, targ);
			return;
		}
		sftp_setup_failed();
	}
	sftp_count(x, r, 1);
	sftp_session_free(from);
	sftp_reap(x, &c, r);
}
