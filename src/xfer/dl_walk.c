/*
 * Downloads on the engine (docs/design-engine.md section 3, step 4):
 * one operand's glob matches as jobs between the session's SFTP
 * endpoint and the local file system.  A file is a file job (file.c),
 * a -r tree the walk (walk.c), a match whose name or type needs the
 * server first (REALPATH, STAT) a job that asks and then queues the
 * right one after itself, and a file split over several sessions
 * (multi.c) a barrier job running download_file() at the head once
 * nothing else is in flight.  Messages are OpenSSH's do_download and
 * download_dir's, in walk order.
 */
#include "dl_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine.h"
#include "file.h"
#include "walk.h"
#include "../fs/name.h"
#include "../fs/outfile.h"
#include "../util/err.h"
#include "../util/log.h"
#include "../util/report.h"
#include "../util/xmalloc.h"

/*
 * Jobs in flight (files and listings each hold a handle) and queued,
 * and READs outstanding over all files (each a wave of small files'
 * blocks and probes; requests are small, so the way out never fills
 * while replies wait to be read).  On a short link a wave of 256 files
 * keeps the server busy and the request table small (a reply costs a
 * scan of it); once a timed round trip says the link is long
 * (sftp_rtt_long), four times that, so 500 small files go in one wave.
 */
#define DLW_SHORT_ACTIVE	256
#define DLW_LONG_ACTIVE		1024
#define DLW_MAX_QUEUED		2048
#define DLW_SHORT_REQS		SFTP_MAX_NREQ
#define DLW_LONG_REQS		(4 * SFTP_MAX_NREQ)

struct dlrun {
	struct sftp_session *s;
	size_t max_handles;	/* the server's bound on active jobs */
	int long_link;		/* raised to the long link's bounds */
	struct xeng *g;
	struct xfile_ctx fc;
	struct xwalk w;
	struct xsdir *tdir;	/* the target directory, or NULL */
	const char *target;
	int dst_is_dir;
};

/* ---- a file split over sessions: the sequential code at the head ---- */

struct dsync {
	struct xjob j;
	struct dlrun *d;
	char *spath, *name, *disp;
	struct sftp_attr a;
	struct xsdir *in;
	int fresh, in_dir;
};

static int
dsync_start(struct xjob *j)
{
	struct dsync *k = (struct dsync *)j;
	int ofl = 0, r;

	if (k->in != NULL) {
		ofl = OUTFILE_NOFOLLOW | (k->fresh ? OUTFILE_FRESH : 0);
	}
	r = download_file(k->d->s, k->spath, &k->a, k->in != NULL ?
	    k->in->fd : AT_FDCWD, k->name, k->disp, ofl);
	if (r < 0) {
		return r;
	}
	if (r > 0 && k->in_dir) {
		strvec_pushf(&j->msgs, "Download of file %s to %s failed",
		    k->spath, k->disp);
	}
	xjob_finish(j, r > 0);
	return 0;
}

/* download_file() said what stopped it. */
static int
dsync_stopped(struct xjob *j, int code)
{
	(void)j;
	(void)code;
	return 1;
}

static void
dsync_free(struct xjob *j)
{
	struct dsync *k = (struct dsync *)j;

	xsdir_put(k->in);
	free(k->spath);
	free(k->name);
	free(k->disp);
	free(k);
}

static const struct xjob_ops dsync_ops = {
	.start = dsync_start,
	.stopped = dsync_stopped,
	.free = dsync_free,
};

/* The engine's bounds, as the link is known to be short or long. */
static size_t
dl_active(const struct dlrun *d, size_t n)
{
	return d->max_handles != 0 && d->max_handles < n + 2 ?
	    (d->max_handles > 3 ? d->max_handles - 2 : 1) : n;
}

static void
dl_bounds(struct dlrun *d)
{
	if (d->long_link || !sftp_rtt_long(d->s)) {
		return;
	}
	d->long_link = 1;
	xeng_set_max_active(d->g, dl_active(d, DLW_LONG_ACTIVE));
	d->fc.cap = DLW_LONG_REQS;
}

/* The walk's file job: split files go the sequential way. */
static struct xjob *
dl_file_job(struct xwalk *w, const char *spath, const struct sftp_attr *a,
    struct xsdir *in, const char *name, const char *disp, int fresh,
    int in_dir)
{
	struct dlrun *d = w->ctx;
	uint64_t size = (a->flags & SSH2_FILEXFER_ATTR_SIZE) ? a->size : 0;
	struct dsync *k;

	dl_bounds(d);
	if (!sftp_multi_possible(d->s, size)) {
		return xfile_new_in(w->fc, spath, a, in, name, disp, fresh,
		    in_dir);
	}
	k = xcalloc(1, sizeof(*k));
	xjob_init(&k->j, &dsync_ops, 0);
	k->j.barrier = 1;
	k->d = d;
	k->spath = xstrdup(spath);
	k->name = xstrdup(name);
	k->disp = xstrdup(disp);
	k->a = *a;
	k->in = xsdir_get(in);
	k->fresh = fresh;
	k->in_dir = in_dir;
	report_plan(spath, size);
	return &k->j;
}

/* The job of a match whose attributes `a` are known: a regular file. */
static struct xjob *
dl_known(struct dlrun *d, const char *m, const struct sftp_attr *a,
    const char *name, const char *disp)
{
	return dl_file_job(&d->w, m, a, d->dst_is_dir ? d->tdir : NULL,
	    d->dst_is_dir ? name : d->target, disp, 0, 0);
}

/* ---- a match the server must name or describe first ---- */

struct dtop {
	struct xjob j;
	struct dlrun *d;
	char *m;		/* the match as the glob gave it */
	char *name;		/* its local name, once known */
	char *canon;
	int top_dir;		/* a directory to copy (-r, marked '/') */
	struct xop o_real, o_stat;
};

static char *
dl_disp(const struct dlrun *d, const char *name)
{
	return name != NULL && !name_is_here(name) ?
	    sftp_path_append(d->target, name) : xstrdup(d->target);
}

static void
dtop_stat(struct xop *op)
{
	struct dtop *t = op->ctx;
	struct dlrun *d = t->d;
	struct xjob *k;
	char *disp = dl_disp(d, t->name);

	if (op->rc != 0) {
		if (t->top_dir) {
			strvec_pushf(&t->j.msgs, "download \"%s\": path "
			    "canonicalization failed", t->m);
		} else {
			strvec_pushf(&t->j.msgs, "stat remote: %s",
			    sftp_fx2txt(op->fx));
		}
		free(disp);
		xjob_finish(&t->j, 1);
		return;
	}
	log_debug("Fetching %s to %s", t->m, disp);
	if (t->top_dir) {
		k = xwalk_dir(&d->w, t->canon, &op->a, d->dst_is_dir ?
		    d->tdir : NULL, d->dst_is_dir ? t->name : d->target, disp,
		    NULL, 0);
		xeng_insert(d->g, &t->j, k);
	} else if ((op->a.flags & SSH2_FILEXFER_ATTR_PERMISSIONS) &&
	    !S_ISREG(op->a.perm)) {
		strvec_pushf(&t->j.msgs, "download %s: not a regular file",
		    t->m);
		free(disp);
		xjob_finish(&t->j, 1);
		return;
	} else {
		xeng_insert(d->g, &t->j, dl_known(d, t->m, &op->a, t->name,
		    disp));
	}
	free(disp);
	xjob_finish(&t->j, 0);
}

static int
dtop_ask_stat(struct dtop *t)
{
	t->o_stat.kind = XOP_STAT;
	t->o_stat.path = t->top_dir ? t->canon : t->m;
	t->o_stat.ctx = t;
	t->o_stat.done = dtop_stat;
	return xjob_start_op(&t->j, t->d->w.src, &t->o_stat);
}

/* As match_name(): the last component of the REALPATH for "/" forms. */
static void
dtop_real(struct xop *op)
{
	struct dtop *t = op->ctx;
	char *base;

	if (op->rc != 0) {
		if (t->top_dir) {
			strvec_pushf(&t->j.msgs, "download \"%s\": path "
			    "canonicalization failed", t->m);
		} else {
			strvec_pushf(&t->j.msgs, "%s: %s", t->m,
			    sftp_fx2txt(op->fx));
		}
		xjob_finish(&t->j, 1);
		return;
	}
	t->canon = op->rpath;
	op->rpath = NULL;
	if (t->name == NULL && t->d->dst_is_dir) {
		base = name_basename(t->canon);
		if (!name_is_safe(base)) {
			strvec_pushf(&t->j.msgs, "%s: cannot determine a "
			    "local name", t->m);
			free(base);
			xjob_finish(&t->j, 1);
			return;
		}
		t->name = base;
	}
	(void)dtop_ask_stat(t);
}

static int
dtop_start(struct xjob *j)
{
	struct dtop *t = (struct dtop *)j;

	if (!t->top_dir && (t->name != NULL || !t->d->dst_is_dir)) {
		return dtop_ask_stat(t);
	}
	t->o_real.kind = XOP_REALPATH;
	t->o_real.path = t->m;
	t->o_real.ctx = t;
	t->o_real.done = dtop_real;
	return xjob_start_op(j, t->d->w.src, &t->o_real);
}

static void
dtop_free(struct xjob *j)
{
	struct dtop *t = (struct dtop *)j;

	free(t->o_real.rpath);
	free(t->m);
	free(t->name);
	free(t->canon);
	free(t);
}

static const struct xjob_ops dtop_ops = {
	.start = dtop_start,
	.free = dtop_free,
};

/* `name`: the local name if known (NULL: from the REALPATH). */
static struct xjob *
dtop_new(struct dlrun *d, const char *m, const char *name, int top_dir)
{
	struct dtop *t = xcalloc(1, sizeof(*t));

	xjob_init(&t->j, &dtop_ops, 0);
	t->d = d;
	t->m = xstrdup(m);
	t->name = name != NULL ? xstrdup(name) : NULL;
	t->top_dir = top_dir;
	return &t->j;
}

/* ---- the operand's matches ---- */

/*
 * Whether a REALPATH answer looks canonical: absolute, no "." or ".."
 * and no empty component.  Only then are the STAT and OPENDIR of the
 * name as typed taken for those of `p` (an honest server's answers).
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
 * The local name of match `m` when it needs no REALPATH: its last
 * component, "." for "." and ".." (into the target itself, bz3871),
 * NULL when only the server can say ("/").  *known 0 then.
 */
static char *
dl_name(const char *m, int *known)
{
	char *base = name_basename(m);

	*known = 1;
	if (name_is_safe(base)) {
		return base;
	}
	if (name_is_here(base)) {
		free(base);
		return xstrdup(".");
	}
	free(base);
	*known = 0;
	return NULL;
}

/* Queues `k`; `dup`: another match has its local name and goes
 * first, so it starts after everything before it is done. */
static int
dl_queue(struct dlrun *d, struct xjob *k, int dup)
{
	if (dup) {
		k->barrier = 1;
	}
	return xeng_add(d->g, k);
}

/* The job for match `i` of `g`. */
static int
dl_match(struct dlrun *d, const struct strvec *g, size_t i,
    struct sftp_srcinfo *pre, int dup)
{
	const struct sftp_attr *known = NULL;
	const char *m = g->v[i];
	size_t len = strlen(m);
	char *name = NULL, *disp;
	struct xjob *k;
	int top_dir, named = 1, plain = 0, r;

	top_dir = len > 0 && m[len - 1] == '/' && d->s->o->recursive;
	if (pre != NULL && pre->plain && g->n == 1) {
		plain = 1;
		known = pre->stat_ok ? &pre->a : NULL;
	} else if (pre != NULL && i < pre->nattrs &&
	    sftp_attr_is_reg(&pre->attrs[i])) {
		/* A regular file as the listing saw it: no STAT. */
		known = &pre->attrs[i];
	}
	if (d->dst_is_dir) {
		name = dl_name(m, &named);
	}
	if (top_dir && plain && pre->canon != NULL &&
	    dl_canon_plausible(pre->canon) && pre->stat_ok &&
	    sftp_attr_is_dir(&pre->a) && (named || !d->dst_is_dir)) {
		/* REALPATH, STAT and OPENDIR came with the glob. */
		disp = dl_disp(d, name);
		log_debug("Fetching %s to %s", m, disp);
		k = xwalk_dir(&d->w, pre->canon, &pre->a, d->dst_is_dir ?
		    d->tdir : NULL, d->dst_is_dir ? name : d->target, disp,
		    pre->dir == 1 ? &pre->h : NULL, pre->dir < 0);
		/* The job owns the handle now. */
		pre->dir = 0;
		free(disp);
		free(name);
		return dl_queue(d, k, dup);
	}
	if (top_dir || !named || known == NULL) {
		/* A name only REALPATH gives may be anyone's. */
		r = dl_queue(d, dtop_new(d, m, named ? name : NULL,
		    top_dir), dup || !named);
		free(name);
		return r;
	}
	disp = dl_disp(d, name);
	log_debug("Fetching %s to %s", m, disp);
	if ((known->flags & SSH2_FILEXFER_ATTR_PERMISSIONS) &&
	    !S_ISREG(known->perm)) {
		r = xeng_note(d->g, 1, "download %s: not a regular file", m);
	} else {
		r = dl_queue(d, dl_known(d, m, known, name, disp), dup);
	}
	free(disp);
	free(name);
	return r;
}

struct dl_named {
	char *name;
	size_t i;
};

static int
cmp_named(const void *a, const void *b)
{
	const struct dl_named *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c != 0) {
		return c;
	}
	return x->i < y->i ? -1 : x->i > y->i;
}

/*
 * Matches of one operand that land on one local name (d1/f and d2/f
 * into a directory; the later one wins, as in a sequential copy): all
 * but the first of each name get dup[i] = 1.  The caller frees the
 * array.
 */
static unsigned char *
dl_dups(const struct dlrun *d, const struct strvec *g)
{
	unsigned char *dup = xcalloc(g->n > 0 ? g->n : 1, 1);
	struct dl_named *v;
	size_t i, n = 0;
	int named;

	if (!d->dst_is_dir || g->n < 2) {
		return dup;
	}
	v = xcalloc(g->n, sizeof(*v));
	for (i = 0; i < g->n; i++) {
		if ((v[n].name = dl_name(g->v[i], &named)) != NULL) {
			v[n++].i = i;
		}
	}
	qsort(v, n, sizeof(*v), cmp_named);
	for (i = 1; i < n; i++) {
		if (strcmp(v[i].name, v[i - 1].name) == 0) {
			dup[v[i].i] = 1;
		}
	}
	for (i = 0; i < n; i++) {
		free(v[i].name);
	}
	free(v);
	return dup;
}

int
download_pipelined(struct sftp_session *s, const struct strvec *g,
    struct sftp_srcinfo *pre, const char *target, int dst_is_dir, int dfd)
{
	struct dlrun d;
	struct xep *eps[2];
	unsigned char *dups;
	size_t i;
	int r;

	/* The sizes come with VERSION; only a file big enough to split
	 * waits for the timed reply (download_file). */
	if ((r = sftp_limits_sizes(s)) != 0) {
		return r;
	}
	memset(&d, 0, sizeof(d));
	d.s = s;
	d.target = target;
	d.dst_is_dir = dst_is_dir;
	if (dst_is_dir && (dfd = dup(dfd)) == -1) {
		log_error("dup: %s", strerror(errno));
		return SCP_E_SYS;
	}
	d.tdir = dst_is_dir ? xsdir_new(dfd) : NULL;
	eps[0] = xep_sftp(s);
	eps[1] = xep_local();
	d.max_handles = s->max_handles;
	d.g = xeng_new(eps, 2, dl_active(&d, DLW_SHORT_ACTIVE),
	    DLW_MAX_QUEUED);
	xfile_ctx_init(&d.fc, eps[0], eps[1], s->o, s);
	d.fc.download = 1;
	d.fc.cap = DLW_SHORT_REQS;
	d.w.g = d.g;
	d.w.fc = &d.fc;
	d.w.src = eps[0];
	d.w.dst = eps[1];
	d.w.preserve = s->o->preserve;
	d.w.download = 1;
	d.w.file = dl_file_job;
	d.w.ctx = &d;
	dups = dl_dups(&d, g);
	for (i = 0, r = 0; i < g->n && r == 0; i++) {
		dl_bounds(&d);
		r = dl_match(&d, g, i, pre, dups[i]);
		if (r == 0 && pre != NULL && pre->pend.n != 0) {
			/* The end of the glob's last listing, answered
			 * before the requests just sent. */
			r = sftp_pend_collect(s, &pre->pend);
		}
	}
	free(dups);
	if (r == 0) {
		r = xeng_drain(d.g);
	}
	if (r == 0 && xeng_errors(d.g) > 0) {
		r = 1;
	}
	xeng_free(d.g);
	xsdir_put(d.tdir);
	xep_free(eps[1]);
	xep_free(eps[0]);
	return r;
}
