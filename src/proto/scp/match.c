/*
 * Brace expansion and name matching for the sink's CVE-2019-6111 check
 * (PROTOCOL.md section 2, "Brace expansion"); see match.h.
 */
#include "match.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "../../util/err.h"
#include "../../util/xmalloc.h"

/*
 * Locates the first top-level brace pair.  *open = *close = -1 when the
 * pattern has none.  SCP_E_FORMAT when braces or brackets don't balance.
 */
static int
brace_find(const char *s, long *open, long *close)
{
	long i, level = 0;
	int bracket = 0;

	*open = *close = -1;
	for (i = 0; s[i] != '\0' && *close < 0; i++) {
		if (s[i] == '\\') {
			if (s[i + 1] != '\0') {
				i++;
			}
		} else if (s[i] == '[') {
			bracket = 1;
		} else if (s[i] == ']') {
			bracket = 0;
		} else if (s[i] == '{' && !bracket) {
			if (s[i + 1] == '}') {
				/* "{}" stays literal, as in csh (find -exec). */
				i++;
				continue;
			}
			if (*open < 0) {
				*open = i;
			}
			level++;
		} else if (s[i] == '}' && !bracket) {
			if (*open < 0) {
				return SCP_E_FORMAT;
			}
			if (--level <= 0) {
				*close = i;
			}
		}
	}
	if (*close < 0 && (*open >= 0 || bracket)) {
		return SCP_E_FORMAT;
	}
	return 0;
}

/* prefix + s[from, to) + suffix, pushed on the worklist. */
static void
brace_emit(struct strvec *work, const char *s, long open, long close,
    long from, long to)
{
	size_t pre = (size_t)open, sel = (size_t)(to - from);
	size_t suf = strlen(s + close + 1);
	char *e = xmalloc(pre + sel + suf + 1);

	memcpy(e, s, pre);
	memcpy(e + pre, s + from, sel);
	memcpy(e + pre + sel, s + close + 1, suf + 1);
	strvec_push(work, e);
	free(e);
}

/*
 * Expands the first brace of `s` onto `work`.  *did is 0 when `s` has no
 * brace.  SCP_E_FORMAT when the selection itself doesn't balance.
 */
static int
brace_expand_one(const char *s, struct strvec *work, int *did)
{
	long open, close, i, from, level = 0;
	int bracket = 0, escaped, r;

	*did = 0;
	if ((r = brace_find(s, &open, &close)) != 0) {
		return r;
	}
	if (open < 0) {
		return 0;
	}
	from = open + 1;
	for (i = from; i < close; i++) {
		escaped = 0;
		if (s[i] == '{' && !bracket) {
			level++;
		} else if (s[i] == '}' && !bracket) {
			level--;
		} else if (s[i] == '[') {
			bracket = 1;
		} else if (s[i] == ']') {
			bracket = 0;
		} else if (s[i] == '\\' && i < close - 1) {
			i++;
			escaped = 1;
		}
		/*
		 * OpenSSH still splits on an escaped comma here ("{a\,b}"
		 * gives "a\" and "b"); we honour the escape instead, so
		 * the name "a,b" is accepted as the user meant.
		 */
		if ((s[i] != ',' || escaped) && i != close - 1) {
			continue;
		}
		if (bracket || level > 0) {
			continue;
		}
		/* The last selection runs up to the closing brace. */
		brace_emit(work, s, open, close, from,
		    i == close - 1 ? close : i);
		from = i + 1;
	}
	if (bracket || level > 0) {
		return SCP_E_FORMAT;
	}
	*did = 1;
	return 0;
}

/* Takes the last string off the vector (the caller frees it). */
static char *
strvec_pop(struct strvec *sv)
{
	char *s = sv->v[sv->n - 1];

	sv->v[--sv->n] = NULL;
	return s;
}

int
scp_brace_expand(const char *pattern, struct strvec *out)
{
	struct strvec work;
	char *cur;
	int did, r = 0;

	strvec_init(&work);
	strvec_push(&work, pattern);
	while (work.n > 0) {
		cur = strvec_pop(&work);
		if ((r = brace_expand_one(cur, &work, &did)) != 0) {
			free(cur);
			break;
		}
		if (!did) {
			strvec_push(out, cur);
		}
		free(cur);
	}
	strvec_clear(&work);
	return r;
}

int
scp_match_prepare(const char *requested, struct strvec *pats)
{
	struct strvec all;
	const char *slash;
	size_t i;
	int r;

	strvec_init(&all);
	if ((r = scp_brace_expand(requested, &all)) == 0) {
		for (i = 0; i < all.n; i++) {
			slash = strrchr(all.v[i], '/');
			strvec_push(pats, slash != NULL ? slash + 1 : all.v[i]);
		}
	}
	strvec_clear(&all);
	return r;
}

int
scp_match_name(const struct strvec *pats, const char *name)
{
	size_t i;

	for (i = 0; i < pats->n; i++) {
		if (strcmp(pats->v[i], name) == 0 ||
		    fnmatch(pats->v[i], name, 0) == 0) {
			return 1;
		}
	}
	return 0;
}
