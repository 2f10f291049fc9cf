/*
 * A pool of SFTP sessions to one destination: one private ControlMaster
 * connection carrying several channels, plus optional extra connections
 * (PROTOCOL.md section 7; docs/design-speed.md has the measurements).
 */
#include "pool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../transport/children.h"
#include "../transport/io.h"
#include "../util/buf.h"
#include "../util/err.h"
#include "../util/log.h"
#include "../util/xmalloc.h"

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

/*
 * Our directories still on disk.  A fatal error (the caller's exit 255,
 * e.g. on SCP_E_SPAWN) leaves by exit() without closing its pool: an
 * atexit() handler removes them then.
 */
#define POOL_DIRS_MAX	8
static char *pool_dirs[POOL_DIRS_MAX];

/* Removes what is in `dir` (the socket, a dying master's temporary
 * one), then `dir`.  Only our own mkdtemp directory is ever emptied. */
static void
pool_empty_dir(const char *dir)
{
	struct dirent *de;
	DIR *d;

	if ((d = opendir(dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0) {
				continue;
			}
			unlinkat(dirfd(d), de->d_name, 0);
		}
		closedir(d);
	}
	if (rmdir(dir) == -1) {
		log_debug("pool: rmdir %s: %s", dir, strerror(errno));
	}
}

static void
pool_atexit(void)
{
	size_t i;

	for (i = 0; i < POOL_DIRS_MAX; i++) {
		if (pool_dirs[i] != NULL) {
			pool_empty_dir(pool_dirs[i]);
			pool_dirs[i] = NULL;
		}
	}
}

static void
pool_register_dir(char *dir)
{
	static int registered;
	size_t i;

	if (!registered) {
		registered = atexit(pool_atexit) == 0;
	}
	for (i = 0; i < POOL_DIRS_MAX; i++) {
		if (pool_dirs[i] == NULL) {
			pool_dirs[i] = dir;
			return;
		}
	}
}

/*
 * The private directory for the control socket: under $TMPDIR when that
 * is short enough for a socket path (108 bytes, and ssh adds a 17-byte
 * suffix while binding), else /tmp.  mkdtemp makes it 0700.
 */
static int
pool_make_dir(struct pool *p)
{
	const char *tmp;
	char *dir;

	tmp = getenv("TMPDIR");
	if (tmp == NULL || tmp[0] != '/' || strlen(tmp) > 48) {
		tmp = "/tmp";
	}
	dir = xasprintf("%s/scp-pool.XXXXXXXXXX", tmp);
	if (mkdtemp(dir) == NULL) {
		log_debug("pool: mkdtemp %s: %s", dir, strerror(errno));
		free(dir);
		return SCP_E_SYS;
	}
	p->dir = dir;
	p->ctlpath = xasprintf("%s/%s", dir, POOL_SOCKET_NAME);
	pool_register_dir(dir);
	return 0;
}

/* Removes the socket (and any temporary one a dying master left) and
 * the directory.  Only our own mkdtemp directory is ever emptied. */
static void
pool_remove_dir(struct pool *p)
{
	size_t i;

	if (p->dir == NULL) {
		return;
	}
	pool_empty_dir(p->dir);
	for (i = 0; i < POOL_DIRS_MAX; i++) {
		if (pool_dirs[i] == p->dir) {
			pool_dirs[i] = NULL;
		}
	}
	free(p->dir);
	free(p->ctlpath);
	p->dir = NULL;
	p->ctlpath = NULL;
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
	if (children_start(&m->child, av.v) == -1) {
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

/* Does the master's control socket exist?  ssh listens on it before it
 * opens its own session, so once that session speaks SFTP it is there
 * unless the ssh program is not OpenSSH's or could not bind. */
static int
pool_socket_ready(const struct pool *p)
{
	struct stat st;

	if (p->ctlpath == NULL || lstat(p->ctlpath, &st) == -1) {
		return 0;
	}
	return S_ISSOCK(st.st_mode);
}

/* ---- channels over the master's control socket (PROTOCOL.mux) ---- */

#define MUX_MSG_HELLO		0x00000001
#define MUX_C_NEW_SESSION	0x10000002
#define MUX_S_PERMISSION_DENIED	0x80000002
#define MUX_S_FAILURE		0x80000003
#define MUX_S_SESSION_OPENED	0x80000006
#define MUX_VERSION		4
/* Replies of the master are small; anything bigger is not one. */
#define MUX_MSG_MAX		(64 * 1024)

/* Appends one mux message `body` to `out`: u32 length, then body. */
static int
pool_mux_frame(struct buf *out, struct buf *body)
{
	int r;

	if ((r = buf_put_string(out, buf_ptr(body), buf_len(body))) != 0) {
		return r;
	}
	buf_reset(body);
	return 0;
}

/* Sends descriptor `fd` with one byte, as the master's mm_receive_fd()
 * expects: one sendmsg per descriptor. */
static int
pool_mux_send_fd(int sock, int fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct cmsghdr *c;
	struct msghdr mh;
	struct iovec iov;
	char ch = '\0';
	ssize_t n;

	memset(&mh, 0, sizeof(mh));
	memset(&cm, 0, sizeof(cm));
	iov.iov_base = &ch;
	iov.iov_len = 1;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof(cm.buf);
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	do {
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	} while (n == -1 && errno == EINTR);
	return n == 1 ? 0 : -1;
}

/* Reads one mux message into `b` (reset first).  0 or -1. */
static int
pool_mux_read(int sock, struct buf *b)
{
	uint8_t hdr[4], *p;
	uint32_t len;
	ssize_t n;

	buf_reset(b);
	n = io_read_full(sock, hdr, sizeof(hdr));
	if (n != (ssize_t)sizeof(hdr)) {
		return -1;
	}
	len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
	    (uint32_t)hdr[2] << 8 | hdr[3];
	if (len < 4 || len > MUX_MSG_MAX || buf_reserve(b, len, &p) != 0) {
		return -1;
	}
	n = io_read_full(sock, p, len);
	return n == (ssize_t)len ? 0 : -1;
}

/*
 * Asks the master at j->ctlpath for a session running the "sftp"
 * subsystem on j->fd's peer `peer` (closed here).  Everything is sent
 * at once: the master reads its control socket message by message and
 * takes the descriptors while handling NEW_SESSION.  Then waits for the
 * reply: 0 once the channel is open, -1 when refused (MaxSessions) or
 * the master is not there.
 */
static int
pool_mux_session(struct pool_job *j, int peer)
{
	struct sockaddr_un sa;
	struct timespec t0, t1;
	struct buf *msg = NULL, *body = NULL;
	uint32_t type, rid;
	int64_t us;
	int rc = -1, nul = -1;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(j->ctlpath) >= sizeof(sa.sun_path)) {
		close(peer);
		return -1;
	}
	memcpy(sa.sun_path, j->ctlpath, strlen(j->ctlpath));
	if (connect(j->ctl, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		log_debug("pool: control socket: %s", strerror(errno));
		close(peer);
		return -1;
	}
	msg = buf_new(MUX_MSG_MAX);
	body = buf_new(MUX_MSG_MAX);
	if (msg == NULL || body == NULL ||
	    buf_put_u32(body, MUX_MSG_HELLO) != 0 ||
	    buf_put_u32(body, MUX_VERSION) != 0 ||
	    pool_mux_frame(msg, body) != 0 ||
	    buf_put_u32(body, MUX_C_NEW_SESSION) != 0 ||
	    buf_put_u32(body, 1) != 0 ||		/* request id */
	    buf_put_cstring(body, "") != 0 ||	/* reserved */
	    buf_put_u32(body, 0) != 0 ||		/* tty */
	    buf_put_u32(body, 0) != 0 ||		/* X11 */
	    buf_put_u32(body, 0) != 0 ||		/* agent */
	    buf_put_u32(body, 1) != 0 ||		/* subsystem */
	    buf_put_u32(body, 0xffffffffU) != 0 ||	/* no escape char */
	    buf_put_cstring(body, "") != 0 ||	/* terminal */
	    buf_put_cstring(body, "sftp") != 0 ||
	    pool_mux_frame(msg, body) != 0) {
		close(peer);
		goto out;
	}
	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	/*
	 * stdin and stdout: the socketpair.  stderr: /dev/null, not ours:
	 * the master makes the descriptors it gets non-blocking, which
	 * would reach our own stderr's open file; and the first session
	 * already shows what the remote side prints there.
	 */
	if ((nul = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1 ||
	    io_write_full(j->ctl, buf_ptr(msg), buf_len(msg)) != 0 ||
	    pool_mux_send_fd(j->ctl, peer) != 0 ||
	    pool_mux_send_fd(j->ctl, peer) != 0 ||
	    pool_mux_send_fd(j->ctl, nul) != 0) {
		log_debug("pool: control socket: %s", strerror(errno));
		close(peer);
		if (nul != -1) {
			close(nul);
		}
		goto out;
	}
	close(peer);
	close(nul);
	/* The master's HELLO, then the answer to request 1. */
	if (pool_mux_read(j->ctl, msg) != 0 ||
	    buf_get_u32(msg, &type) != 0 || type != MUX_MSG_HELLO ||
	    pool_mux_read(j->ctl, msg) != 0 ||
	    buf_get_u32(msg, &type) != 0 || buf_get_u32(msg, &rid) != 0 ||
	    rid != 1) {
		log_debug("pool: no answer from the master");
		goto out;
	}
	if (type != MUX_S_SESSION_OPENED) {
		log_debug("pool: channel refused (%s)",
		    type == MUX_S_FAILURE ? "failure" :
		    type == MUX_S_PERMISSION_DENIED ? "permission denied" :
		    "unexpected reply");
		goto out;
	}
	(void)clock_gettime(CLOCK_MONOTONIC, &t1);
	us = ((int64_t)t1.tv_sec - (int64_t)t0.tv_sec) * 1000000 +
	    ((int64_t)t1.tv_nsec - (int64_t)t0.tv_nsec) / 1000;
	j->rtt_us = us < 0 ? 0 : us > (int64_t)UINT32_MAX ? UINT32_MAX :
	    (uint32_t)us;
	rc = 0;
out:
	buf_free(msg);
	buf_free(body);
	return rc;
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
	struct stat st;
	long ms = 1;

	for (;;) {
		if (__atomic_load_n(&j->state, __ATOMIC_ACQUIRE) == 2) {
			return -1;
		}
		if (lstat(j->ctlpath, &st) == 0 && S_ISSOCK(st.st_mode)) {
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
	} else if (pool_mux_session(j, j->peer) == 0) {
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
	if (!pool_socket_ready(p)) {
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
	    (!early && !pool_socket_ready(p))) {
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
		pool_remove_dir(p);
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
		pool_remove_dir(p);
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
	if (want_mux > 0 && pool_make_dir(p) != 0) {
		p->refused += want_mux;
		want_mux = 0;
	}

	/* Alone, it need not wait for VERSION: nothing else needs the
	 * master up. */
	if ((r = pool_first(p, want_mux == 0 && want_conn == 0)) != 0) {
		return r;
	}

	if (want_mux > 0 && !pool_socket_ready(p)) {
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
		(void)pool_make_dir(p);
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
	pool_remove_dir(p);
	return bad;
}
