/*
 * A pool of SFTP sessions to one destination: one private ControlMaster
 * connection carrying several channels, plus optional extra connections
 * (PROTOCOL.md section 7; docs/design-speed.md has the measurements).
 */
#include "pool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/err.h"
#include "../util/log.h"
#include "../util/xmalloc.h"
#include "run.h"
#include "sshargs.h"

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
pool_user_jumps(const struct scp_options *o)
{
	size_t i;

	for (i = 0; i < o->ssh_args.n; i++) {
		if (strcmp(o->ssh_args.v[i], "-J") == 0) {
			return 1;
		}
		if (strcmp(o->ssh_args.v[i], "-o") == 0 &&
		    i + 1 < o->ssh_args.n &&
		    pool_opt_is(o->ssh_args.v[i + 1], "ProxyJump")) {
			return 1;
		}
	}
	return 0;
}

void
pool_argv(struct strvec *out, const struct scp_options *o,
    enum pool_role role, const char *ctlpath, const char *host,
    const char *user, int port)
{
	struct strvec base;
	char *esc;
	size_t i;

	strvec_init(&base);
	sshargs_connection(&base, o, SSHARGS_SFTP, host, user, port, "sftp");
	if (o->sftp_direct != NULL || role == POOL_DIRECT ||
	    ((role == POOL_MASTER || role == POOL_MUX) && ctlpath == NULL)) {
		strvec_pushv(out, &base);
		strvec_clear(&base);
		return;
	}
	/* Right after the program: ssh keeps the first value of an option,
	 * command line before config, so these win over the user's. */
	strvec_push(out, base.v[0]);
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
		if (!o->verbose) {
			strvec_push(out, "-oLogLevel=QUIET");
		}
		/* A refused channel (MaxSessions) makes ssh fall back to a
		 * connection of its own: let that fail at once rather than
		 * authenticate again. */
		if (!pool_user_jumps(o)) {
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
		if (!o->verbose) {
			strvec_push(out, "-oLogLevel=QUIET");
		}
		break;
	}
	free(esc);
	for (i = 1; i < base.n; i++) {
		strvec_push(out, base.v[i]);
	}
	strvec_clear(&base);
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
	return 0;
}

/* Removes the socket (and any temporary one a dying master left) and
 * the directory.  Only our own mkdtemp directory is ever emptied. */
static void
pool_remove_dir(struct pool *p)
{
	struct dirent *de;
	DIR *d;

	if (p->dir == NULL) {
		return;
	}
	if ((d = opendir(p->dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0) {
				continue;
			}
			unlinkat(dirfd(d), de->d_name, 0);
		}
		closedir(d);
	}
	if (rmdir(p->dir) == -1) {
		log_debug("pool: rmdir %s: %s", p->dir, strerror(errno));
	}
	free(p->dir);
	free(p->ctlpath);
	p->dir = NULL;
	p->ctlpath = NULL;
}

/* Starts the process of a new member (not yet in p->m). */
static struct pool_member *
pool_start(struct pool *p, const struct scp_options *o, enum pool_role role,
    const char *host, const char *user, int port)
{
	struct pool_member *m;
	struct strvec av;
	char *desc;

	m = xmalloc(sizeof(*m));
	memset(m, 0, sizeof(*m));
	m->role = role;
	m->child.pid = -1;
	m->child.fd = -1;
	strvec_init(&av);
	pool_argv(&av, o, role, p->ctlpath, host, user, port);
	if (role == POOL_MASTER || (role == POOL_DIRECT && p->n == 0)) {
		/* The first connection traces as run_sftp.c's does. */
		if (o->verbose) {
			desc = sshargs_describe(o, SSHARGS_SFTP, host, user,
			    "sftp");
			log_plain("%s", desc);
			free(desc);
		}
	} else {
		log_debug("pool: starting %s", pool_role_name(role));
	}
	if (cli_child_start(&m->child, av.v) == -1) {
		cli_fatal("fork: %s", strerror(errno));
	}
	strvec_clear(&av);
	return m;
}

/* Drops a member whose session could not be opened. */
static void
pool_discard(struct pool_member *m)
{
	if (m->sess != NULL) {
		sftp_session_free(m->sess);
	}
	cli_child_abort(&m->child);
	free(m);
}

/*
 * Opens the session of extra member `m` and adds it to the pool, or
 * discards it.  Its failure messages (sftp_session_open prints
 * "Connection closed" and the like) are hidden unless -v: a refused
 * extra session is expected, not news.
 */
static void
pool_add_extra(struct pool *p, const struct scp_options *o,
    const struct sftp_opts *fo, struct pool_member *m)
{
	enum log_level level;
	int r;

	level = log_get_level();
	if (!o->verbose) {
		log_init(NULL, LOG_QUIET, log_is_remote());
	}
	r = sftp_session_open(&m->sess, m->child.fd, m->child.fd, fo);
	log_init(NULL, level, log_is_remote());
	if (r != 0) {
		m->sess = NULL;
		log_debug("pool: %s refused (%s)", pool_role_name(m->role),
		    scp_strerror(r));
		pool_discard(m);
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

int
pool_open(struct pool *p, const struct scp_options *o,
    const struct sftp_opts *fo, const char *host, const char *user,
    int port, int channels, int connections)
{
	struct pool_member *first, *pend[POOL_MAX];
	size_t want_mux, want_conn, i, npend;
	enum pool_role role;
	int r;

	memset(p, 0, sizeof(*p));
	want_mux = channels > 1 ? (size_t)channels - 1 : 0;
	want_conn = connections > 0 ? (size_t)connections : 0;
	if (o->sftp_direct != NULL) {
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

	role = o->sftp_direct != NULL ? POOL_DIRECT : POOL_MASTER;
	first = pool_start(p, o, role, host, user, port);
	r = sftp_session_open(&first->sess, first->child.fd,
	    first->child.fd, fo);
	if (r != 0) {
		first->sess = NULL;
		pool_discard(first);
		pool_remove_dir(p);
		return r;
	}
	p->m[p->n++] = first;

	if (want_mux > 0 && !pool_socket_ready(p)) {
		log_debug("pool: no control socket, no mux channels");
		p->refused += want_mux;
		want_mux = 0;
	}
	/* Channels are cheap and the master serialises their opening:
	 * start all the clients, then speak SFTP on each. */
	npend = 0;
	for (i = 0; i < want_mux && !cli_interrupted; i++) {
		pend[npend++] = pool_start(p, o, POOL_MUX, host, user, port);
	}
	for (i = 0; i < npend; i++) {
		if (cli_interrupted) {
			pool_discard(pend[i]);
			continue;
		}
		pool_add_extra(p, o, fo, pend[i]);
	}
	/* Connections one at a time: sshd's MaxStartups and
	 * PerSourcePenalties punish bursts of unauthenticated ones
	 * (PROTOCOL.md section 7). */
	role = o->sftp_direct != NULL ? POOL_DIRECT : POOL_CONN;
	for (i = 0; i < want_conn && !cli_interrupted; i++) {
		pool_add_extra(p, o, fo,
		    pool_start(p, o, role, host, user, port));
	}
	if (cli_interrupted) {
		pool_close(p, 1);
		return SCP_E_INTR;
	}
	if (p->refused > 0) {
		log_debug("pool: %zu of %zu sessions", p->n,
		    p->n + p->refused);
	}
	return 0;
}

struct sftp_session *
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
	/* Newest first: m[0], whose connection carries the channels,
	 * goes last. */
	while (p->n > 0) {
		m = p->m[--p->n];
		p->m[p->n] = NULL;
		sftp_session_free(m->sess);
		m->sess = NULL;
		if (broken) {
			cli_child_abort(&m->child);
		} else if (cli_child_finish(&m->child) != 0) {
			bad++;
		}
		free(m);
	}
	p->nmux = 0;
	p->nconn = 0;
	pool_remove_dir(p);
	return bad;
}
