/*
 * Remote path preparation and globbing (PROTOCOL.md section 4): OpenBSD
 * glob(3) semantics with GLOB_NOCHECK|GLOB_MARK over READDIR/LSTAT/STAT.
 * Supported: '*', '?', '[...]' with ranges and '!' negation, backslash
 * escapes.  No brace expansion and no '~' here (done by path
 * preparation).  A leading '.' in a name must be matched literally.
 */
#include "sftp_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
	if (!(s->exts & SFTP_EXT_EXPAND_PATH)) {
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
};

/* Adds `path` (known to exist, `a` its lstat attrs) with GLOB_MARK. */
static int
glob_add(struct globctx *g, const char *path, const struct sftp_attr *a)
{
	struct sftp_attr st;
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
	}
	if (isdir && len > 0 && path[len - 1] != '/') {
		strvec_pushf(g->out, "%s/", path);
	} else {
		strvec_push(g->out, path);
	}
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
	int r = 0;

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
	r = sftp_do_readdir(g->s, dir, &ents, &nents);
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

int
sftp_glob(struct sftp_session *s, const char *pattern, struct strvec *out,
    int *nomatch)
{
	struct globctx g;
	int r;

	*nomatch = 0;
	memset(&g, 0, sizeof(g));
	g.s = s;
	g.out = out;
	g.first = out->n;
	if ((r = glob_rec(&g, "", pattern, NULL)) != 0) {
		return r;
	}
	if (g.toomany) {
		log_error("%s: too many glob matches", pattern);
		return SCP_E_TOOBIG;
	}
	if (out->n == g.first) {
		char *u = sftp_glob_unescape(pattern);

		strvec_push(out, u);
		free(u);
		*nomatch = 1;
		return 0;
	}
	qsort(out->v + g.first, out->n - g.first, sizeof(*out->v), cmp_str);
	return 0;
}

int
sftp_glob_source(struct sftp_session *s, const char *src, struct strvec *out)
{
	struct sftp_attr a;
	char *path = NULL;
	int r, nomatch;

	if ((r = sftp_prepare_path(s, src, &path)) != 0) {
		return r == SCP_E_PEER ? 1 : r;
	}
	r = sftp_glob(s, path, out, &nomatch);
	free(path);
	if (r != 0) {
		return r == SCP_E_TOOBIG ? 1 : r;
	}
	if (nomatch && (r = sftp_do_stat(s, out->v[0], 0, &a)) != 0) {
		if (r == SCP_E_PEER) {
			log_error("%s: %s", src, strerror(ENOENT));
			return 1;
		}
		return r;
	}
	return 0;
}
