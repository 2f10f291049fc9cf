/*
 * A pool of SFTP sessions to one destination: one private ControlMaster
 * connection carrying several channels, plus optional extra connections
 * (PROTOCOL.md section 7; docs/design-speed.md has the measurements).
 * The control socket and the mux protocol are mux.c's.
 */
#include "pool.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../util/err.h"
#include "../util/log.h"
#include "../util/xmalloc.h"
#include "children.h"
#include "io.h"
#include "mux.h"

/* What every mux channel runs: the first connection's command, "sftp"
 * (cfg->argv; a -D pool has no channels). */
#define POOL_SUBSYSTEM	"sftp"

/* ssh expands %-tokens in ControlPath: a literal '%' is "%%". */
static char *
pool_escape_pct(const char *s)
{
	size_t i, n, len;
	char *r;

	len = strlen(s);
	n = 0;
	for (i = 0; i < len; i++) {
		if (s[i] == '%') {
			n++;
		}
	}
	r = xmalloc(len + n + 1);
	n = 0;
	for (i = 0; i < len; i++) {
		r[n++] = s[i];
		if (s[i] == '%') {
			r[n++] = '%';
		}
	}
	r[n] = '\0';
	return r;
}

/* Does the -o argument `arg` set keyword `kw` ("Kw=v" or "Kw v")? */
static int
pool_opt_is(const char *arg, const char *kw)
{
	size_t n;

	n = strlen(kw);
	if (strncasecmp(arg, kw, n) != 0) {
		return 0;
	}
	return arg[n] == '=' || arg[n] == ' ' || arg[n] == '\t';
}

/*
 * ssh refuses ProxyCommand together with a -J given on its command line
 * ("Cannot specify -J with ProxyCommand"), and a command-line ProxyJump
 * after our ProxyCommand would be ignored anyway.
 */
static int
pool_user_jumps(const struct strvec *args)
{
	size_t i;

	if (args == NULL) {
		return 0;
	}
	for (i = 0; i < args->n; i++) {
		if (strcmp(args->v[i], "-J") == 0) {
			return 1;
		}
		if (strcmp(args->v[i], "-o") == 0 && i + 1 < args->n &&
		    pool_opt_is(args->v[i + 1], "ProxyJump")) {
			return 1;
		}
	}
	return 0;
}

void
pool_argv(struct strvec *out, const struct pool_config *cfg,
    enum pool_role role, const char *ctlpath)
{
	const struct strvec *base = cfg->argv;
	char *esc;
	size_t i;

	if (cfg->direct || role == POOL_DIRECT ||
	    ((role == POOL_MASTER || role == POOL_MUX) && ctlpath == NULL)) {
		strvec_pushv(out, base);
		return;
	}
	/* Right after the program: ssh keeps the first value of an option,
	 * command line before config, so these win over the user's. */
	strvec_push(out, base->v[0]);
	esc = ctlpath != NULL ? pool_escape_pct(ctlpath) : NULL;
	switch (role) {
	case POOL_MASTER:
		strvec_push(out, "-oControlMaster=yes");
		strvec_pushf(out, "-oControlPath=%s", esc);
		/* The master ends with its own session, never lingers. */
		strvec_push(out, "-oControlPersist=no");
		break;
	case POOL_MUX:
		strvec_push(out, "-oControlMaster=no");
		strvec_pushf(out, "-oControlPath=%s", esc);
		strvec_push(out, "-oBatchMode=yes");
		if (!cfg->verbose) {
			strvec_push(out, "-oLogLevel=QUIET");
		}
		/* A refused channel (MaxSessions) makes ssh fall back to a
		 * connection of its own: let that fail at once rather than
		 * authenticate again. */
		if (!pool_user_jumps(cfg->ssh_args)) {
			strvec_push(out, "-oProxyCommand=false");
		}
		break;
	case POOL_CONN:
	case POOL_DIRECT:
		/* Not a client of a master the user may have configured. */
		strvec_push(out, "-oControlMaster=no");
		strvec_push(out, "-oControlPath=none");
		/* Never a second password prompt: no key, no connection. */
		strvec_push(out, "-oBatchMode=yes");
		if (!cfg->verbose) {
			strvec_push(out, "-oLogLevel=QUIET");
		}
		break;
	}
	free(esc);
	for (i = 1; i < base->n; i++) {
		strvec_push(out, base->v[i]);
	}
}

static const char *
pool_role_name(enum pool_role role)
{
	switch (role) {
	case POOL_MASTER:
		return "master";
	case POOL_MUX:
		return "mux channel";
	case POOL_CONN:
		return "extra connection";
	case POOL_DIRECT:
		return "local server";
	}
	return "?";
}

/* Starts the process of a new member (not yet in p->m): NULL with
 * errno when it could not be started. */
static struct pool_member *
pool_start(struct pool *p, enum pool_role role)
{
	struct pool_member *m;
	struct strvec av;
	int saved;

	m = xmalloc(sizeof(*m));
	memset(m, 0, sizeof(*m));
	m->role = role;
	m->child.pid = -1;
	m->child.fd = -1;
	m->ctl = -1;
	strvec_init(&av);
	pool_argv(&av, p->cfg, role, p->ctlpath);
	if (role == POOL_MASTER || (role == POOL_DIRECT && p->n == 0)) {
		/* The first connection traces as a plain one does. */
		if (p->cfg->trace != NULL) {
			log_plain("%s", p->cfg->trace);
		}
	} else {
		log_debug("pool: starting %s", pool_role_name(role));
	}
	if (children_start_err(&m->child, av.v, p->cfg->err_fd) == -1) {
		saved = errno;
		strvec_clear(&av);
		free(m);
		errno = saved;
		return NULL;
	}
	strvec_clear(&av);
	return m;
}

/* Drops a member whose session could not be opened. */
static void
pool_discard(struct pool *p, struct pool_member *m)
{
	if (m->sess != NULL) {
		p->cfg->session_free(p->cfg->session_ctx, m->sess);
	}
	children_abort(&m->child);
	free(m);
}

/*
 * Opens the session of extra member `m` and adds it to the pool, or
 * discards it.  Its failure messages (an SFTP session open prints
 * "Connection closed" and the like) are hidden unless -v: a refused
 * extra session is expected, not news.
 */
static void
pool_add_extra(struct pool *p, struct pool_member *m)
{
	enum log_level level;
	int r;

	level = log_get_level();
	if (!p->cfg->verbose) {
		log_init(NULL, LOG_QUIET, log_is_remote());
	}
	r = p->cfg->session_open(p->cfg->session_ctx, m->child.fd, &m->sess);
	log_init(NULL, level, log_is_remote());
	if (r != 0) {
		m->sess = NULL;
		log_debug("pool: %s refused (%s)", pool_role_name(m->role),
		    scp_strerror(r));
		pool_discard(p, m);
		p->refused++;
		return;
	}
	p->m[p->n++] = m;
	if (m->role == POOL_MUX) {
		p->nmux++;
	} else if (m->role == POOL_CONN) {
		p->nconn++;
	}
}

/* Job `j` waits for the probe when gated: 1 if the policy wants it. */
static int
pool_gate_pass(struct pool_job *j)
{
	struct pool_gate *g = j->gate;
	size_t n;
	int ok;

	if (g == NULL || j->probe) {
		return 1;
	}
	pthread_mutex_lock(&g->mu);
	while (!g->known) {
		pthread_cond_wait(&g->cv, &g->mu);
	}
	n = g->step > 0 ? (g->rtt_us + g->step - 1) / g->step : 0;
	n = n > g->cap ? g->cap : n;
	ok = g->rtt_us >= g->min_rtt && j->rank <= n;
	pthread_mutex_unlock(&g->mu);
	return ok;
}

/* The probe's verdict: the round trip, 0 when it failed (none go on). */
static void
pool_gate_open(struct pool_job *j, uint32_t rtt_us)
{
	struct pool_gate *g = j->gate;

	if (g == NULL || !j->probe) {
		return;
	}
	pthread_mutex_lock(&g->mu);
	if (!g->known) {
		g->known = 1;
		g->rtt_us = rtt_us;
		pthread_cond_broadcast(&g->cv);
	}
	pthread_mutex_unlock(&g->mu);
}

/*
 * An early probe (pool_grow_auto): the master binds its control socket
 * only once logged in, so look for it, sooner at first.  0 once it is
 * there, -1 when pool_job_finish() stopped us first.
 */
static int
pool_job_wait_socket(struct pool_job *j)
{
	struct timespec ts = { 0, 0 };
	long ms = 1;

	for (;;) {
		if (__atomic_load_n(&j->state, __ATOMIC_ACQUIRE) == 2) {
			return -1;
		}
		if (mux_socket_ready(j->ctlpath)) {
			return 0;
		}
		ts.tv_nsec = ms * 1000000L;
		(void)nanosleep(&ts, NULL);
		if (ms < 50) {
			ms *= 2;
		}
	}
}

/* The thread of one background channel. */
static void *
pool_job_run(void *arg)
{
	struct pool_job *j = arg;
	void *s = NULL;
	int zero = 0;

	if (j->wait_sock && pool_job_wait_socket(j) != 0) {
		/* The pool closed first: nobody waits on the gate. */
		close(j->peer);
		j->unwanted = 1;
		pool_gate_open(j, 0);
	} else if (!pool_gate_pass(j)) {
		close(j->peer);
		j->unwanted = 1;
	} else if (mux_new_session(j->ctl, j->ctlpath, j->peer, POOL_SUBSYSTEM,
	    &j->rtt_us) == 0) {
		pool_gate_open(j, j->rtt_us);
		/* 0 -> 1 unless pool_job_finish() stopped us (2). */
		if (__atomic_compare_exchange_n(&j->state, &zero, 1, 0,
		    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE) &&
		    j->cfg->session_open(j->cfg->session_ctx, j->fd,
		    &s) != 0) {
			s = NULL;
		}
	} else {
		pool_gate_open(j, 0);
	}
	j->sess = s;
	__atomic_store_n(&j->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Starts the thread of a new job, signals blocked in it (they are the
 * main thread's to handle).  NULL if no thread could be made. */
static struct pool_job *
pool_job_start(struct pool *p, struct pool_gate *gate, int probe,
    int wait_sock)
{
	struct pool_job *j;
	sigset_t all, old;
	int sp[2] = { -1, -1 };

	j = xcalloc(1, sizeof(*j));
	j->fd = -1;
	j->ctl = -1;
	j->cfg = p->cfg;
	j->ctlpath = p->ctlpath;
	j->gate = gate;
	j->probe = probe;
	j->wait_sock = wait_sock && probe;
	j->rank = p->n + p->njob + 1;
	/* Made here, so that pool_job_finish() can always wake the
	 * thread by shutting them down. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1 ||
	    (j->ctl = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		log_debug("pool: socket: %s", strerror(errno));
		if (sp[0] != -1) {
			close(sp[0]);
			close(sp[1]);
		}
		free(j);
		return NULL;
	}
	j->fd = sp[0];
	j->peer = sp[1];
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (pthread_create(&j->th, NULL, pool_job_run, j) != 0) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		close(j->fd);
		close(j->peer);
		close(j->ctl);
		free(j);
		return NULL;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	j->started = 1;
	return j;
}

/* Joins job `j` and frees it; its session becomes a member of `p`, or
 * everything is closed.  `stop`: end it first (pool closing). */
static void
pool_job_finish(struct pool *p, struct pool_job *j, int stop)
{
	struct pool_member *m;
	int zero = 0;

	/*
	 * Wakes a thread still talking to the master (quietly).  One
	 * already opening its session is let finish: for SFTP its VERSION
	 * is at most a round trip away, and cutting it would print
	 * "Connection closed" after a copy that went well.
	 */
	if (stop && __atomic_compare_exchange_n(&j->state, &zero, 2, 0,
	    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		shutdown(j->fd, SHUT_RDWR);
		shutdown(j->ctl, SHUT_RDWR);
	}
	pthread_join(j->th, NULL);
	if (j->rtt_us != 0 && p->rtt_us == 0) {
		p->rtt_us = j->rtt_us;
	}
	if (j->sess != NULL && !stop && p->n < POOL_MAX) {
		m = xcalloc(1, sizeof(*m));
		m->role = POOL_MUX;
		m->child.pid = -1;
		m->child.fd = j->fd;
		m->ctl = j->ctl;
		m->sess = j->sess;
		p->m[p->n++] = m;
		p->nmux++;
	} else {
		p->cfg->session_free(p->cfg->session_ctx, j->sess);
		if (j->fd != -1) {
			close(j->fd);
		}
		if (j->ctl != -1) {
			close(j->ctl);
		}
		if (!stop && !j->unwanted) {
			p->refused++;
		}
	}
	free(j);
}

void
pool_grow(struct pool *p, size_t want)
{
	struct pool_job *j;

	if (want > POOL_MAX) {
		want = POOL_MAX;
	}
	if (!mux_socket_ready(p->ctlpath)) {
		if (p->n + p->njob < want) {
			log_debug("pool: no control socket, no channels");
		}
		return;
	}
	while (p->n + p->njob < want && p->njob < POOL_MAX) {
		if ((j = pool_job_start(p, NULL, 0, 0)) == NULL) {
			break;
		}
		p->job[p->njob++] = j;
	}
}

void
pool_grow_auto(struct pool *p, size_t cap, uint32_t min_rtt, uint32_t step,
    int early)
{
	struct pool_gate *g;
	struct pool_job *j;

	if (cap > POOL_MAX) {
		cap = POOL_MAX;
	}
	if (cap < 2 || p->gate != NULL || p->ctlpath == NULL ||
	    (!early && !mux_socket_ready(p->ctlpath))) {
		return;
	}
	g = xcalloc(1, sizeof(*g));
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	g->cap = cap;
	g->min_rtt = min_rtt;
	g->step = step;
	p->gate = g;
	log_debug("pool: probe channel, up to %zu sessions", cap);
	while (p->n + p->njob < cap) {
		if ((j = pool_job_start(p, g, p->njob == 0, early)) == NULL) {
			break;
		}
		p->job[p->njob++] = j;
	}
	if (p->njob == 0) {
		/* No probe to open it: nobody may wait on it. */
		pthread_cond_destroy(&g->cv);
		pthread_mutex_destroy(&g->mu);
		free(g);
		p->gate = NULL;
	}
}

/* Frees the gate once no job can wait on it. */
static void
pool_gate_free(struct pool *p)
{
	if (p->gate == NULL) {
		return;
	}
	pthread_cond_destroy(&p->gate->cv);
	pthread_mutex_destroy(&p->gate->mu);
	free(p->gate);
	p->gate = NULL;
}

int
pool_probe_rtt(struct pool *p, uint32_t *rtt_us)
{
	struct pool_gate *g = p->gate;
	int known;

	*rtt_us = p->rtt_us;
	if (p->rtt_us != 0 || g == NULL) {
		return 1;
	}
	/* The probe opens the gate however its channel went. */
	pthread_mutex_lock(&g->mu);
	known = g->known;
	*rtt_us = g->rtt_us;
	pthread_mutex_unlock(&g->mu);
	return known;
}

int
pool_opening(const struct pool *p)
{
	return p->njob > 0;
}

size_t
pool_collect(struct pool *p, int wait)
{
	size_t i, k;

	if (wait == POOL_WAIT_FIRST && p->njob > 0) {
		/* The oldest: the probe, which the others wait for. */
		pool_job_finish(p, p->job[0], 0);
		for (i = 1; i < p->njob; i++) {
			p->job[i - 1] = p->job[i];
		}
		p->njob--;
		wait = 0;
	}
	for (i = k = 0; i < p->njob; i++) {
		if (wait == POOL_WAIT_ALL ||
		    __atomic_load_n(&p->job[i]->done, __ATOMIC_ACQUIRE)) {
			pool_job_finish(p, p->job[i], 0);
		} else {
			p->job[k++] = p->job[i];
		}
	}
	p->njob = k;
	return k;
}

/*
 * Starts member 0 (the master, or a plain ssh for -D) and opens its
 * session; `lazy`: only starts it (cfg->session_start).  0, or
 * SCP_E_SPAWN (errno kept) or the session's error, with the member
 * reaped and the socket directory removed.
 */
static int
pool_first(struct pool *p, int lazy)
{
	const struct pool_config *cfg = p->cfg;
	struct pool_member *m;
	int r, saved;

	if ((m = pool_start(p, cfg->direct ? POOL_DIRECT :
	    POOL_MASTER)) == NULL) {
		saved = errno;
		mux_dir_remove(&p->dir, &p->ctlpath);
		errno = saved;
		return SCP_E_SPAWN;
	}
	/* Not lazy: the master is up (its socket there) on return. */
	r = lazy ? cfg->session_start(cfg->session_ctx, m->child.fd,
	    &m->sess) : cfg->session_open(cfg->session_ctx, m->child.fd,
	    &m->sess);
	if (r != 0) {
		m->sess = NULL;
		pool_discard(p, m);
		mux_dir_remove(&p->dir, &p->ctlpath);
		return r;
	}
	p->m[p->n++] = m;
	return 0;
}

int
pool_open(struct pool *p, const struct pool_config *cfg, int channels,
    int connections)
{
	struct pool_member *m;
	size_t want_mux, want_conn, i;
	enum pool_role role;
	int r;

	memset(p, 0, sizeof(*p));
	p->cfg = cfg;
	want_mux = channels > 1 ? (size_t)channels - 1 : 0;
	want_conn = connections > 0 ? (size_t)connections : 0;
	if (cfg->direct) {
		/* Local servers: all alike, no master. */
		want_conn += want_mux;
		want_mux = 0;
	}
	if (want_mux > POOL_MAX - 1) {
		p->refused += want_mux - (POOL_MAX - 1);
		want_mux = POOL_MAX - 1;
	}
	if (want_conn > POOL_MAX - 1 - want_mux) {
		p->refused += want_conn - (POOL_MAX - 1 - want_mux);
		want_conn = POOL_MAX - 1 - want_mux;
	}
	if (want_mux > 0 &&
	    mux_dir_make(POOL_SOCKET_NAME, &p->dir, &p->ctlpath) != 0) {
		p->refused += want_mux;
		want_mux = 0;
	}

	/* Alone, it need not wait for VERSION: nothing else needs the
	 * master up. */
	if ((r = pool_first(p, want_mux == 0 && want_conn == 0)) != 0) {
		return r;
	}

	if (want_mux > 0 && !mux_socket_ready(p->ctlpath)) {
		log_debug("pool: no control socket, no mux channels");
		p->refused += want_mux;
		want_mux = 0;
	}
	/* Channels open in parallel, no process each (pool_grow). */
	if (want_mux > 0) {
		pool_grow(p, 1 + want_mux);
		(void)pool_collect(p, POOL_WAIT_ALL);
	}
	/* Connections one at a time: sshd's MaxStartups and
	 * PerSourcePenalties punish bursts of unauthenticated ones
	 * (PROTOCOL.md section 7). */
	role = cfg->direct ? POOL_DIRECT : POOL_CONN;
	for (i = 0; i < want_conn && !io_cancelled(); i++) {
		if ((m = pool_start(p, role)) == NULL) {
			/* Left as it is: the caller exits (pool.h). */
			return SCP_E_SPAWN;
		}
		pool_add_extra(p, m);
	}
	if (io_cancelled()) {
		pool_close(p, 1);
		return SCP_E_INTR;
	}
	if (p->refused > 0) {
		log_debug("pool: %zu of %zu sessions", p->n,
		    p->n + p->refused);
	}
	return 0;
}

int
pool_open_master(struct pool *p, const struct pool_config *cfg)
{
	memset(p, 0, sizeof(*p));
	p->cfg = cfg;
	/* Without a directory the argv is the plain one (pool_argv). */
	if (!cfg->direct) {
		(void)mux_dir_make(POOL_SOCKET_NAME, &p->dir, &p->ctlpath);
	}
	return pool_first(p, 1);
}

void *
pool_session(struct pool *p, size_t i)
{
	if (i >= p->n) {
		return NULL;
	}
	return p->m[i]->sess;
}

int
pool_close(struct pool *p, int broken)
{
	struct pool_member *m;
	int bad;

	bad = 0;
	/* Channels still opening are woken and dropped. */
	if (p->gate != NULL) {
		pthread_mutex_lock(&p->gate->mu);
		p->gate->known = 1;
		pthread_cond_broadcast(&p->gate->cv);
		pthread_mutex_unlock(&p->gate->mu);
	}
	while (p->njob > 0) {
		pool_job_finish(p, p->job[--p->njob], 1);
	}
	pool_gate_free(p);
	/* Newest first: m[0], whose connection carries the channels,
	 * goes last. */
	while (p->n > 0) {
		m = p->m[--p->n];
		p->m[p->n] = NULL;
		p->cfg->session_free(p->cfg->session_ctx, m->sess);
		m->sess = NULL;
		if (m->child.pid == -1 && m->role == POOL_MUX) {
			/* No process: our end closed, the channel ends
			 * (EOF to its sftp-server), then the control
			 * connection. */
			if (m->child.fd != -1) {
				close(m->child.fd);
			}
			if (m->ctl != -1) {
				close(m->ctl);
			}
		} else if (broken) {
			children_abort(&m->child);
		} else if (children_finish(&m->child) != 0) {
			bad++;
		}
		free(m);
	}
	p->nmux = 0;
	p->nconn = 0;
	mux_dir_remove(&p->dir, &p->ctlpath);
	return bad;
}
