/*
 * Downloads (OpenSSH's sink_sftp and do_download, PROTOCOL.md section 4):
 * sftp_download(), the entry point, and one operand's handling.
 *
 * This file owns what comes between the operand and the files: its glob,
 * the destination checks ("Multiple files match pattern...", creating
 * the target directory), the local name given to each match (match_name),
 * and the choice between the sequential loop (--resume: dl_file.c,
 * dl_tree.c) and the queue of many files in flight (dl_queue.c), which
 * it feeds the matches one at a time (dl_feed) together with what the
 * glob already learnt about them (struct sftp_srcinfo), and whose
 * top-level jobs needing REALPATH it runs (dl_run_top).  dl_int.h maps
 * the other download files.
 *
 * Local files are written through src/fs/outfile.h: atomically (temporary
 * name, renamed once complete) unless --inplace.  Names that come from the
 * server (READDIR) are created relative to their directory's descriptor
 * without following symlinks.
 */
#include "dl_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../fs/name.h"
#include "../fs/outfile.h"
#include "../transport/io.h"
#include "../util/err.h"
#include "../util/log.h"
#include "../util/strvec.h"
#include "../util/xmalloc.h"

/*
 * The local name for a glob result: its last component; "." for "."
 * and ".." (name_is_here(): into the target itself); for "/" the real
 * directory's name, so nothing is written beside the target (section
 * 6).  NULL (message printed) or a new string.
 */
static char *
match_name(struct sftp_session *s, const char *match, int *fatal)
{
	char *base = name_basename(match), *canon = NULL;
	int r;

	*fatal = 0;
	if (name_is_safe(base)) {
		return base;
	}
	if (name_is_here(base)) {
		free(base);
		return xstrdup(".");
	}
	free(base);
	if ((r = sftp_do_realpath(s, match, &canon)) != 0) {
		if (r != SCP_E_PEER) {
			*fatal = r;
		} else {
			log_error("%s: %s", match,
			    sftp_fx2txt(s->last_status));
		}
		return NULL;
	}
	base = name_basename(canon);
	free(canon);
	if (!name_is_safe(base)) {
		log_error("%s: cannot determine a local name", match);
		free(base);
		return NULL;
	}
	return base;
}

/*
 * Whether a REALPATH answer looks canonical: absolute, no "." or ".."
 * and no empty component.  Only then are the STAT and OPENDIR of the
 * name as typed taken for those of `p` (an honest server's answers); a
 * strange answer goes dl_run_top()'s way, which asks about it.
 */
static int
dl_canon_plausible(const char *p)
{
	const char *c, *e;
	size_t n;

	if (*p != '/') {
		return 0;
	}
	for (c = p + 1; *c != '\0'; c = *e == '\0' ? e : e + 1) {
		e = strchr(c, '/');
		if (e == NULL) {
			e = c + strlen(c);
		}
		n = (size_t)(e - c);
		if (n == 0 || (n == 1 && c[0] == '.') ||
		    (n == 2 && c[0] == '.' && c[1] == '.')) {
			return 0;
		}
	}
	return 1;
}

/*
 * A directory operand whose REALPATH, STAT and OPENDIR came with its
 * glob: dl_run_top()'s DIR job without its round trips, or NULL when
 * that needs more than the glob learnt (it runs as usual then).
 */
static struct dl_job *
dl_top_pre(struct dl_engine *e, const char *m, const char *base,
    struct sftp_srcinfo *pre)
{
	struct dl_job *c;
	char *name = NULL, *ldisp;

	if (pre->canon == NULL || !dl_canon_plausible(pre->canon) ||
	    !pre->stat_ok || !sftp_attr_is_dir(&pre->a)) {
		return NULL;
	}
	if (e->dst_is_dir) {
		/* As match_name(): "." and ".." into the target itself, "/"
		 * named after REALPATH. */
		name = name_is_safe(base) ? xstrdup(base) :
		    name_is_here(base) ? xstrdup(".") :
		    name_basename(pre->canon);
		if (!name_is_safe(name) && !name_is_here(name)) {
			free(name);
			return NULL;
		}
	}
	ldisp = name != NULL && !name_is_here(name) ?
	    sftp_path_append(e->target, name) :
	    xstrdup(e->target);
	log_debug("Fetching %s to %s", m, ldisp);
	c = dl_job_new(DLJ_DIR, pre->canon, name != NULL ? name : e->target,
	    ldisp);
	free(name);
	free(ldisp);
	c->a = pre->a;
	c->have_attrs = 1;
	c->dirfd = e->dst_is_dir ? e->dfd : AT_FDCWD;
	c->nofollow = e->dst_is_dir;
	c->pre_dir = pre->dir;
	c->h = pre->h;
	/* The job owns the handle now. */
	pre->dir = 0;
	return c;
}

/* The next glob match as a job at the tail. */
void
dl_feed(struct dl_engine *e)
{
	struct sftp_srcinfo *pre = NULL;
	const struct sftp_attr *known = NULL;
	const char *m;
	char *base = NULL, *ldisp;
	struct dl_job *j;
	size_t len;
	int top_dir;

	if (e->gi >= e->g->n) {
		return;
	}
	if (e->pre != NULL && e->pre->plain && e->g->n == 1) {
		pre = e->pre;
		known = pre->stat_ok ? &pre->a : NULL;
	} else if (e->pre != NULL && e->gi < e->pre->nattrs &&
	    sftp_attr_is_reg(&e->pre->attrs[e->gi])) {
		/* A regular file as the listing saw it: no STAT. */
		known = &e->pre->attrs[e->gi];
	}
	m = e->g->v[e->gi++];
	len = strlen(m);
	top_dir = len > 0 && m[len - 1] == '/' && e->s->o->recursive;
	if (e->dst_is_dir) {
		base = name_basename(m);
	}
	if (top_dir && pre != NULL &&
	    (j = dl_top_pre(e, m, base != NULL ? base : "", pre)) != NULL) {
		e->pf_dirty = 1;
	} else if (top_dir || (base != NULL && !name_is_safe(base))) {
		j = dl_job_new(DLJ_TOP, m, "", "");
		j->top_dir = top_dir;
	} else {
		ldisp = base != NULL ? sftp_path_append(e->target, base) :
		    xstrdup(e->target);
		log_debug("Fetching %s to %s", m, ldisp);
		j = dl_job_new(DLJ_FILE, m, base != NULL ? base : e->target,
		    ldisp);
		free(ldisp);
		j->dirfd = e->dst_is_dir ? e->dfd : AT_FDCWD;
		j->ofl = e->dst_is_dir ? OUTFILE_NOFOLLOW : 0;
		if (known != NULL) {
			/* The glob learnt what STAT would say. */
			j->a = *known;
			j->have_attrs = 1;
			dl_file_stated(e, j);
		}
	}
	free(base);
	dl_insert(e, NULL, j);
}

/* A glob match whose local name or type needs REALPATH (sftp_download's
 * loop body): a directory becomes a DIR job right after this one. */
int
dl_run_top(struct dl_engine *e, struct dl_job *j)
{
	struct sftp_session *s = e->s;
	struct sftp_attr a;
	struct dl_job *c;
	char *name = NULL, *ldisp, *canon = NULL;
	int r, fatal;

	if (e->dst_is_dir) {
		if ((name = match_name(s, j->rpath, &fatal)) == NULL) {
			if (fatal) {
				return fatal;
			}
			e->errs = 1;
			return 0;
		}
	}
	ldisp = name != NULL && !name_is_here(name) ?
	    sftp_path_append(e->target, name) :
	    xstrdup(e->target);
	log_debug("Fetching %s to %s", j->rpath, ldisp);
	if (j->top_dir) {
		if ((r = sftp_do_realpath(s, j->rpath, &canon)) != 0 ||
		    (r = sftp_do_stat(s, canon, 0, &a)) != 0) {
			if (r == SCP_E_PEER) {
				log_error("download \"%s\": path "
				    "canonicalization failed", j->rpath);
				e->errs = 1;
				r = 0;
			}
			goto out;
		}
		c = dl_job_new(DLJ_DIR, canon, e->dst_is_dir ? name :
		    e->target, ldisp);
		c->a = a;
		c->have_attrs = 1;
		c->dirfd = e->dst_is_dir ? e->dfd : AT_FDCWD;
		c->nofollow = e->dst_is_dir;
		dl_insert(e, j, c);
		e->pf_dirty = 1;
	} else {
		r = download_file(s, j->rpath, NULL,
		    e->dst_is_dir ? e->dfd : AT_FDCWD,
		    e->dst_is_dir ? name : e->target, ldisp,
		    e->dst_is_dir ? OUTFILE_NOFOLLOW : 0);
		if (r > 0) {
			e->errs = 1;
			r = 0;
		}
	}
out:
	free(canon);
	free(name);
	free(ldisp);
	return r;
}

int
sftp_download(struct sftp_session *s, const char *src, const char *target)
{
	struct strvec g;
	struct sftp_attr a;
	struct rstack rs;
	struct stat st;
	struct sftp_srcinfo pre;
	char *name = NULL, *canon = NULL, *ldisp = NULL;
	size_t i, len;
	int r, dst_is_dir, errs = 0, dfd = -1, fatal, want;

	if (s->dead) {
		return SCP_E_CLOSED;
	}
	if (src == NULL || target == NULL) {
		return SCP_E_FORMAT;
	}
	strvec_init(&g);
	memset(&rs, 0, sizeof(rs));
	memset(&pre, 0, sizeof(pre));
	/*
	 * Without --resume the operand's STAT, and with -r its REALPATH
	 * and OPENDIR, go with the glob's LSTAT (the engine takes them),
	 * and the limits are waited for only when the first file starts
	 * (dl_limits): a tree's listings go on meanwhile.
	 */
	want = s->o->recursive ? SFTP_SRC_REALPATH | SFTP_SRC_OPENDIR : 0;
	if ((r = s->o->resume ? sftp_glob_source(s, src, &g) :
	    sftp_glob_source_pre(s, src, &g, want, &pre)) != 0 ||
	    (s->o->resume && (r = sftp_limits(s)) != 0)) {
		if (r == 1) {
			errs = 1;
			r = 0;
		}
		goto out;
	}
	dst_is_dir = stat(target, &st) == 0 && S_ISDIR(st.st_mode);
	if (g.n > 1 && !dst_is_dir) {
		if (lstat(target, &st) == 0) {
			log_error("Multiple files match pattern, but "
			    "destination \"%s\" is not a directory", target);
			errs = 1;
			goto out;
		}
		log_debug2("creating destination \"%s\"", target);
		if (mkdir(target, 0777) != 0) {
			log_error("local mkdir \"%s\": %s", target,
			    strerror(errno));
			errs = 1;
			goto out;
		}
		dst_is_dir = 1;
	}
	if (dst_is_dir &&
	    (dfd = open(target, O_RDONLY | O_DIRECTORY | O_NOCTTY)) == -1) {
		log_error("open local \"%s\": %s", target, strerror(errno));
		errs = 1;
		goto out;
	}
	if (!s->o->resume) {
		/* --resume keeps the sequential code below. */
		r = download_pipelined(s, &g, &pre, target, dst_is_dir,
		    dfd);
		if (r > 0) {
			errs = 1;
			r = 0;
		}
		goto out;
	}
	for (i = 0; i < g.n && !io_cancelled(); i++) {
		len = strlen(g.v[i]);
		free(name);
		free(ldisp);
		name = ldisp = NULL;
		if (dst_is_dir) {
			if ((name = match_name(s, g.v[i], &fatal)) == NULL) {
				if (fatal) {
					r = fatal;
					goto out;
				}
				errs = 1;
				continue;
			}
		}
		ldisp = name != NULL && !name_is_here(name) ?
		    sftp_path_append(target, name) :
		    xstrdup(target);
		log_debug("Fetching %s to %s", g.v[i], ldisp);
		if (len > 0 && g.v[i][len - 1] == '/' && s->o->recursive) {
			free(canon);
			canon = NULL;
			if ((r = sftp_do_realpath(s, g.v[i], &canon)) != 0 ||
			    (r = sftp_do_stat(s, canon, 0, &a)) != 0) {
				if (r != SCP_E_PEER) {
					goto out;
				}
				log_error("download \"%s\": path "
				    "canonicalization failed", g.v[i]);
				errs = 1;
				continue;
			}
			r = download_dir(s, canon, &a,
			    dst_is_dir ? dfd : AT_FDCWD,
			    dst_is_dir ? name : target, ldisp, dst_is_dir, &rs);
		} else {
			r = download_file(s, g.v[i], NULL,
			    dst_is_dir ? dfd : AT_FDCWD,
			    dst_is_dir ? name : target, ldisp,
			    dst_is_dir ? OUTFILE_NOFOLLOW : 0);
		}
		if (r < 0) {
			goto out;
		}
		if (r > 0) {
			errs = 1;
		}
	}
	r = 0;
out:
	if (dfd != -1) {
		close(dfd);
	}
	free(name);
	free(ldisp);
	free(canon);
	/* A handle the engine did not take is closed here. */
	sftp_srcinfo_release(s, &pre);
	strvec_clear(&g);
	if (io_cancelled()) {
		return SCP_E_INTR;
	}
	if (r < 0 || s->dead) {
		return r == SCP_E_INTR ? r : SCP_E_CLOSED;
	}
	return errs ? 1 : 0;
}
