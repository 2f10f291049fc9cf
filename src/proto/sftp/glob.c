/*
 * Remote path preparation and globbing (PROTOCOL.md section 4): OpenBSD
 * glob(3) semantics with GLOB_NOCHECK|GLOB_MARK over READDIR/LSTAT/STAT.
 * Supported: '*', '?', '[...]' with ranges and '!' negation, backslash
 * escapes.  No brace expansion and no '~' here (done by path
 * preparation).  A leading '.' in a name must be matched literally.
 */
#include "glob.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../util/report.h"
#include "../../util/err.h"
#include "../../util/log.h"
#include "../../util/strvec.h"
#include "../../util/xmalloc.h"

/* Most matches one glob may produce (OpenBSD's GLOB_LIMIT spirit). */
#define SFTP_GLOB_MAX	65536

int
sftp_glob_has_magic(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 1 < n) {
			i++;
			continue;
		}
		if (s[i] == '*' || s[i] == '?' || s[i] == '[') {
			return 1;
		}
	}
	return 0;
}

char *
sftp_glob_unescape(const char *s)
{
	size_t n = strlen(s), i, j = 0;
	char *out = xmalloc(n + 1);

	for (i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 1 < n) {
			i++;
		}
		out[j++] = s[i];
	}
	out[j] = '\0';
	return out;
}

/*
 * Length of the bracket expression starting after '[' at p[0..n), up to
 * and including ']'; 0 if there is no closing ']' (then '[' is literal).
 */
static size_t
bracket_len(const char *p, size_t n)
{
	size_t i = 0;

	if (i < n && p[i] == '!') {
		i++;
	}
	if (i < n && p[i] == ']') {
		i++;
	}
	while (i < n && p[i] != ']') {
		if (p[i] == '\\' && i + 1 < n) {
			i++;
		}
		i++;
	}
	return i < n ? i + 1 : 0;
}

/* Whether byte c is in the bracket expression p[0..n) (without ']'). */
static int
bracket_match(const char *p, size_t n, unsigned char c)
{
	size_t i = 0;
	int neg = 0, ok = 0;
	unsigned char lo, hi;

	if (i < n && p[i] == '!') {
		neg = 1;
		i++;
	}
	while (i < n) {
		if (p[i] == '\\' && i + 1 < n) {
			i++;
		}
		lo = (unsigned char)p[i++];
		hi = lo;
		if (i + 1 < n && p[i] == '-') {
			i++;
			if (p[i] == '\\' && i + 1 < n) {
				i++;
			}
			hi = (unsigned char)p[i++];
		}
		if (lo <= c && c <= hi) {
			ok = 1;
		}
	}
	return ok != neg;
}

static int
match_from(const char *p, const char *pe, const char *s)
{
	size_t bl;

	while (p < pe) {
		switch (*p) {
		case '*':
			while (p < pe && *p == '*') {
				p++;
			}
			if (p == pe) {
				return 1;
			}
			for (;;) {
				if (match_from(p, pe, s)) {
					return 1;
				}
				if (*s == '\0') {
					return 0;
				}
				s++;
			}
		case '?':
			if (*s == '\0') {
				return 0;
			}
			p++;
			s++;
			break;
		case '[':
			bl = bracket_len(p + 1, (size_t)(pe - p - 1));
			if (bl == 0) {
				goto literal;
			}
			if (*s == '\0' ||
			    !bracket_match(p + 1, bl - 1, (unsigned char)*s)) {
				return 0;
			}
			p += 1 + bl;
			s++;
			break;
		case '\\':
			if (p + 1 < pe) {
				p++;
			}
			/* FALLTHROUGH */
		default:
 literal:
			if (*s != *p) {
				return 0;
			}
			p++;
			s++;
			break;
		}
	}
	return *s == '\0';
}

int
sftp_glob_match(const char *pat, size_t n, const char *name)
{
	if (name[0] == '.' && !(n > 0 && pat[0] == '.') &&
	    !(n > 1 && pat[0] == '\\' && pat[1] == '.')) {
		return 0;
	}
	return match_from(pat, pat + n, name);
}

char *
sftp_prepare_path_local(const char *path, int *needs_expand)
{
	*needs_expand = 0;
	if (*path == '\0' || strcmp(path, "~") == 0) {
		return xstrdup(".");
	}
	if (strncmp(path, "~/", 2) == 0) {
		return xstrdup(path[2] == '\0' ? "." : path + 2);
	}
	if (*path == '~') {
		*needs_expand = 1;
	}
	return xstrdup(path);
}

int
sftp_prepare_path(struct sftp_session *s, const char *path, char **out)
{
	char *p;
	int expand, r;

	*out = NULL;
	p = sftp_prepare_path_local(path, &expand);
	if (!expand) {
		*out = p;
		return 0;
	}
	free(p);
	if (!sftp_has_ext(s, SFTP_EXT_EXPAND_PATH)) {
		log_error("server expand-path extension is required "
		    "for ~user paths in SFTP mode");
		return SCP_E_PEER;
	}
	if ((r = sftp_do_expand_path(s, path, out)) != 0) {
		if (r == SCP_E_PEER) {
			log_error("expand %s: %s", path,
			    s->last_status_msg != NULL &&
			    *s->last_status_msg != '\0' ?
			    s->last_status_msg :
			    sftp_fx2txt(s->last_status));
		}
		return r;
	}
	return 0;
}

struct globctx {
	struct sftp_session *s;
	struct strvec *out;
	size_t first;		/* index of our first result in out */
	int toomany;
	/*
	 * With `info` (sftp_glob_source_pre): the STAT-like attributes of
	 * each result in attrs[] (flags 0 unknown), and the end of the
	 * last listing left in flight (pend) for the caller.
	 */
	struct sftp_srcinfo *info;
	struct sftp_attr *attrs;
	size_t aattrs;
	struct sftp_pend pend;
};

/* Records what is known of the result just added (NULL: nothing). */
static void
glob_note(struct globctx *g, const struct sftp_attr *a)
{
	size_t i = g->out->n - 1 - g->first;

	if (g->info == NULL) {
		return;
	}
	if (i >= g->aattrs) {
		g->aattrs = g->aattrs ? g->aattrs * 2 : 64;
		g->attrs = xreallocarray(g->attrs, g->aattrs,
		    sizeof(*g->attrs));
	}
	if (a != NULL) {
		g->attrs[i] = *a;
	} else {
		memset(&g->attrs[i], 0, sizeof(g->attrs[i]));
	}
}

/* Takes the end of the previous listing. */
static int
glob_collect(struct globctx *g)
{
	return sftp_pend_collect(g->s, &g->pend);
}

/* Adds `path` (known to exist, `a` its lstat attrs) with GLOB_MARK. */
static int
glob_add(struct globctx *g, const char *path, const struct sftp_attr *a)
{
	struct sftp_attr st;
	const struct sftp_attr *known = a;
	size_t len = strlen(path);
	int isdir = sftp_attr_is_dir(a), r;

	if (g->out->n - g->first >= SFTP_GLOB_MAX) {
		g->toomany = 1;
		return 0;
	}
	if (!isdir && sftp_attr_is_lnk(a)) {
		r = sftp_do_stat(g->s, path, 0, &st);
		if (r != 0 && r != SCP_E_PEER) {
			return r;
		}
		isdir = r == 0 && sftp_attr_is_dir(&st);
		known = r == 0 ? &st : NULL;
	}
	if (isdir && len > 0 && path[len - 1] != '/') {
		strvec_pushf(g->out, "%s/", path);
	} else {
		strvec_push(g->out, path);
	}
	glob_note(g, known);
	return 0;
}

/*
 * Expands pattern `rest` below the (already unescaped) path `prefix`.
 * `known` holds lstat attributes of `prefix` when they are known.
 */
static int
glob_rec(struct globctx *g, const char *prefix, const char *rest,
    const struct sftp_attr *known)
{
	struct sftp_dirent *ents = NULL;
	struct sftp_attr a;
	size_t nents = 0, i, clen, plen;
	const char *comp, *next;
	char *path, *dir, *cpy;
	struct sftp_pend pend;
	int r = 0, rr;

	path = xstrdup(prefix);
	for (;;) {
		/* Copy separators. */
		plen = strspn(rest, "/");
		if (plen > 0) {
			cpy = xasprintf("%s%.*s", path, (int)plen, rest);
			free(path);
			path = cpy;
			rest += plen;
			known = NULL;
		}
		if (*rest == '\0') {
			/* End of pattern: the path must exist (lstat). */
			if (known != NULL) {
				a = *known;
			} else if ((r = sftp_do_stat(g->s, path, 1, &a)) !=
			    0) {
				r = r == SCP_E_PEER ? 0 : r;
				goto out;
			}
			r = glob_add(g, path, &a);
			goto out;
		}
		comp = rest;
		next = strchr(rest, '/');
		clen = next == NULL ? strlen(rest) : (size_t)(next - rest);
		if (sftp_glob_has_magic(comp, clen)) {
			break;
		}
		cpy = xstrndup(comp, clen);
		dir = sftp_glob_unescape(cpy);
		free(cpy);
		cpy = xasprintf("%s%s", path, dir);
		free(dir);
		free(path);
		path = cpy;
		rest += clen;
		known = NULL;
	}
	/* A component with magic: list the directory so far. */
	dir = *path == '\0' ? xstrdup(".") : xstrdup(path);
	if (g->info != NULL) {
		/*
		 * Its end (READDIRs past it, CLOSE) is collected with the
		 * next listing's replies, or by the caller with its own
		 * requests' (no round trip of its own); the previous one's
		 * is here by now.
		 */
		r = sftp_do_readdir_ex(g->s, dir, &ents, &nents, &pend);
		if ((rr = glob_collect(g)) != 0) {
			r = rr;
		}
		g->pend = pend;
	} else {
		r = sftp_do_readdir(g->s, dir, &ents, &nents);
	}
	free(dir);
	if (r != 0) {
		/* Unreadable directories just match nothing (no GLOB_ERR). */
		r = r == SCP_E_PEER ? 0 : r;
		goto out;
	}
	for (i = 0; i < nents && !g->toomany; i++) {
		/* "." and ".." never match a pattern (bash's
		 * globskipdots): ".*" must not reach the parent. */
		if (strcmp(ents[i].name, ".") == 0 ||
		    strcmp(ents[i].name, "..") == 0 ||
		    !sftp_glob_match(comp, clen, ents[i].name)) {
			continue;
		}
		cpy = xasprintf("%s%s", path, ents[i].name);
		r = glob_rec(g, cpy, comp + clen, &ents[i].a);
		free(cpy);
		if (r != 0) {
			break;
		}
	}
out:
	sftp_dirents_free(ents, nents);
	free(path);
	return r;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A result and what is known of it, sorted together. */
struct glob_pair {
	char *path;
	struct sftp_attr a;
};

static int
cmp_pair(const void *a, const void *b)
{
	return strcmp(((const struct glob_pair *)a)->path,
	    ((const struct glob_pair *)b)->path);
}

/* Sorts the results from g->first on, and their attrs[] with them. */
static void
glob_sort(struct globctx *g)
{
	struct glob_pair *p;
	size_t n = g->out->n - g->first, i;

	if (g->info == NULL) {
		qsort(g->out->v + g->first, n, sizeof(*g->out->v), cmp_str);
		return;
	}
	p = xreallocarray(NULL, n, sizeof(*p));
	for (i = 0; i < n; i++) {
		p[i].path = g->out->v[g->first + i];
		p[i].a = g->attrs[i];
	}
	qsort(p, n, sizeof(*p), cmp_pair);
	for (i = 0; i < n; i++) {
		g->out->v[g->first + i] = p[i].path;
		g->attrs[i] = p[i].a;
	}
	free(p);
}

/* sftp_glob(); with `info`, its attrs[] and pend are filled. */
static int
glob_run(struct sftp_session *s, const char *pattern, struct strvec *out,
    int *nomatch, struct sftp_srcinfo *info)
{
	struct globctx g;
	int r;

	*nomatch = 0;
	memset(&g, 0, sizeof(g));
	g.s = s;
	g.out = out;
	g.first = out->n;
	g.info = info;
	if ((r = glob_rec(&g, "", pattern, NULL)) != 0) {
		goto out;
	}
	if (g.toomany) {
		log_error("%s: too many glob matches", pattern);
		r = SCP_E_TOOBIG;
		goto out;
	}
	if (out->n == g.first) {
		char *u = sftp_glob_unescape(pattern);

		strvec_push(out, u);
		free(u);
		*nomatch = 1;
		goto out;
	}
	glob_sort(&g);
	if (info != NULL) {
		info->attrs = g.attrs;
		info->nattrs = out->n - g.first;
		g.attrs = NULL;
	}
out:
	if (info != NULL && r == 0) {
		info->pend = g.pend;
	} else if (r == 0) {
		r = glob_collect(&g);
	} else {
		(void)glob_collect(&g);
	}
	free(g.attrs);
	return r;
}

int
sftp_glob(struct sftp_session *s, const char *pattern, struct strvec *out,
    int *nomatch)
{
	return glob_run(s, pattern, out, nomatch, NULL);
}

/*
 * sftp_glob_source() of a plain operand `path` (prepared, nothing for
 * the glob to expand): its LSTAT, STAT and what `want` asks go out
 * together (one round trip instead of up to four), then what glob_rec(),
 * glob_add() and the no-match STAT would have done with the answers.
 * Fatal codes return at once (the session is dead).
 */
static int
glob_source_plain(struct sftp_session *s, const char *src, const char *path,
    struct strvec *out, int want, struct sftp_srcinfo *info)
{
	struct sftp_attr la;
	size_t len = strlen(path);
	uint32_t lid, sid, rid = 0, oid = 0;
	int r, rl, rs, isdir;

	if ((r = sftp_send_stat(s, path, 1, &lid)) != 0 ||
	    (r = sftp_send_stat(s, path, 0, &sid)) != 0 ||
	    ((want & SFTP_SRC_REALPATH) && (r = sftp_send_path(s,
	    SSH2_FXP_REALPATH, path, NULL, &rid)) != 0) ||
	    ((want & SFTP_SRC_OPENDIR) && (r = sftp_send_path(s,
	    SSH2_FXP_OPENDIR, path, NULL, &oid)) != 0)) {
		return r;
	}
	/* The server answers in order: no reply is kept waiting long. */
	if ((rl = sftp_recv_attrs(s, lid, &la)) != 0 && rl != SCP_E_PEER) {
		return rl;
	}
	if ((rs = sftp_recv_attrs(s, sid, &info->a)) != 0 &&
	    rs != SCP_E_PEER) {
		return rs;
	}
	if (rid != 0 && (r = sftp_recv_realpath(s, rid, &info->canon)) != 0 &&
	    r != SCP_E_PEER) {
		return r;
	}
	if (oid != 0) {
		if ((r = sftp_recv_handle(s, oid, &info->h)) != 0 &&
		    r != SCP_E_PEER) {
			return r;
		}
		info->dir = r == 0 ? 1 : -1;
	}
	info->plain = 1;
	info->stat_ok = rs == 0;
	if (rl == 0) {
		/* glob_add(): a symlink to a directory is marked too. */
		isdir = sftp_attr_is_dir(&la) || (sftp_attr_is_lnk(&la) &&
		    rs == 0 && sftp_attr_is_dir(&info->a));
		if (isdir && len > 0 && path[len - 1] != '/') {
			strvec_pushf(out, "%s/", path);
		} else {
			strvec_push(out, path);
		}
		return 0;
	}
	/* No match: the literal name, if it exists (sftp_glob_source). */
	strvec_push(out, path);
	if (rs != 0) {
		log_error("%s: %s", src, strerror(ENOENT));
		report_end(src, NULL, 0, 0, REPORT_FAILED, NULL);
		return 1;
	}
	return 0;
}

void
sftp_srcinfo_release(struct sftp_session *s, struct sftp_srcinfo *info)
{
	free(info->canon);
	info->canon = NULL;
	free(info->attrs);
	info->attrs = NULL;
	info->nattrs = 0;
	(void)sftp_pend_collect(s, &info->pend);
	/* Errors closing a directory are ignored (sftp_do_readdir). */
	if (info->dir == 1 && !s->dead) {
		(void)sftp_do_close(s, &info->h);
	}
	info->dir = 0;
}

int
sftp_glob_source(struct sftp_session *s, const char *src, struct strvec *out)
{
	return sftp_glob_source_pre(s, src, out, 0, NULL);
}

int
sftp_glob_source_pre(struct sftp_session *s, const char *src,
    struct strvec *out, int want, struct sftp_srcinfo *info)
{
	struct sftp_attr a;
	char *path = NULL;
	int r, nomatch;

	if (info != NULL) {
		memset(info, 0, sizeof(*info));
	}
	if ((r = sftp_prepare_path(s, src, &path)) != 0) {
		return r == SCP_E_PEER ? 1 : r;
	}
	if (info != NULL && strpbrk(path, "*?[\\") == NULL) {
		r = glob_source_plain(s, src, path, out, want, info);
		free(path);
		return r;
	}
	r = glob_run(s, path, out, &nomatch, info);
	free(path);
	if (r != 0) {
		return r == SCP_E_TOOBIG ? 1 : r;
	}
	if (!nomatch) {
		return 0;
	}
	if ((r = sftp_do_stat(s, out->v[out->n - 1], 0, &a)) != 0) {
		if (r == SCP_E_PEER) {
			log_error("%s: %s", src, strerror(ENOENT));
			/* A missing source is one failed file (issue 16). */
			report_end(src, NULL, 0, 0, REPORT_FAILED, NULL);
			return 1;
		}
		return r;
	}
	/* The literal name of a directory is marked like a match, so that
	 * -r copies it as OpenSSH does ("dir.glob[456]" naming itself). */
	if (sftp_attr_is_dir(&a)) {
		char *lit = out->v[out->n - 1];
		size_t len = strlen(lit);

		if (len > 0 && lit[len - 1] != '/') {
			out->v[out->n - 1] = xasprintf("%s/", lit);
			free(lit);
		}
	}
	return 0;
}
