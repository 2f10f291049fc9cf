/*
 * local -> local copies.  OpenSSH runs cp(1); we run our own legacy
 * source in a child and our sink here, over a socketpair, so the copy
 * has scp's semantics (PROTOCOL.md section 2) and no PATH lookup.
 * Messages from the source side reach the user through the sink, which
 * prints what the peer reports; the child itself stays silent.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/log.h"
#include "../util/progress.h"
#include "../util/report.h"
#include "../util/xmalloc.h"
#include "run.h"

/*
 * realpath of `path`, or of its parent when it does not exist yet (the
 * name a copy would create).  NULL if neither resolves.  Caller frees.
 */
static char *
resolve_target(const char *path)
{
	char *r, *dir, *slash;

	if ((r = realpath(path, NULL)) != NULL) {
		return r;
	}
	dir = xstrdup(path);
	if ((slash = strrchr(dir, '/')) == NULL) {
		free(dir);
		return realpath(".", NULL);
	}
	if (slash == dir) {
		slash[1] = '\0';
	} else {
		*slash = '\0';
	}
	r = realpath(dir, NULL);
	free(dir);
	return r;
}

/*
 * cp refuses "cannot copy a directory into itself"; our source walks the
 * tree while the sink adds to it, so without this check `scp -r d d/sub`
 * would recurse until the names get too long.
 */
static int
copy_into_itself(const char *src, const char *target)
{
	struct stat st;
	char *s, *t;
	size_t n;
	int bad = 0;

	if (stat(src, &st) != 0 || !S_ISDIR(st.st_mode)) {
		return 0;
	}
	if ((s = realpath(src, NULL)) == NULL) {
		return 0;
	}
	if ((t = resolve_target(target)) != NULL) {
		n = strlen(s);
		bad = strncmp(s, t, n) == 0 && (t[n] == '\0' || t[n] == '/' ||
		    strcmp(s, "/") == 0);
	}
	free(s);
	free(t);
	return bad;
}

static void
local_source_child(const struct cli *x, int fd, const char *src)
{
	struct scp_opts so;
	struct scp_conn conn;
	int r;

	/* The parent's handlers act on its children, not ours. */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGTSTP, SIG_DFL);
	signal(SIGTTIN, SIG_DFL);
	signal(SIGTTOU, SIG_DFL);
	/* Errors go to the peer (our sink) only, as a remote scp's do. */
	log_init("scp", log_get_level(), 1);
	/* The parent's sink reports these files. */
	report_disable();
	so = x->sopts;
	so.remote = 1;
	so.progress = 0;
	scp_conn_init(&conn, fd, fd, &so);
	r = scp_source_start(&conn);
	if (r == 0) {
		r = scp_source_send(&conn, src);
	}
	_exit(r < 0 || conn.errs != 0);
}

void
local_copy(struct cli *x, const char *src, const char *target)
{
	struct scp_opts so;
	struct scp_conn conn;
	struct ssh_child c;
	int sv[2], r;
	pid_t pid;

	if (x->sopts.recursive && copy_into_itself(src, target)) {
		log_plain("cannot copy a directory, '%s', into itself, '%s'",
		    src, target);
		x->errs++;
		return;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		cli_fatal("socketpair: %s", strerror(errno));
	}
	if ((pid = fork()) == -1) {
		cli_fatal("fork: %s", strerror(errno));
	}
	if (pid == 0) {
		close(sv[0]);
		local_source_child(x, sv[1], src);
	}
	close(sv[1]);
	c.pid = pid;
	c.fd = sv[0];
	children_register(&c);

	so = x->sopts;
	/* cp shows no meter; and the name check guards against a hostile
	 * peer, which our own child is not. */
	so.progress = 0;
	so.no_name_check = 1;
	scp_conn_init(&conn, sv[0], sv[0], &so);
	r = scp_sink(&conn, target, NULL);
	x->errs += conn.errs;
	if (r < 0) {
		x->errs++;
	}
	if (children_finish(&c) != 0) {
		x->errs++;
	}
}
