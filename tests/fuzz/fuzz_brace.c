/*
 * libFuzzer target: brace expansion and name matching, the sink's
 * CVE-2019-6111 check (PROTOCOL.md section 2, src/proto/scp/match.h).
 *
 * The input is split at its first NUL or newline into the requested
 * pattern and a name the "server" sends.  Invariants checked:
 *  - every expansion is shorter than the pattern unless it is the
 *    pattern itself (braces are consumed), and contains no NUL;
 *  - there are at most 2^(number of commas) expansions: each split
 *    consumes one comma, so more would mean duplication out of nothing;
 *  - scp_match_prepare's patterns are the expansions' last components,
 *    and each of them is accepted as a name by scp_match_name (what the
 *    user literally asked for must never be refused).
 * The pattern is capped so the expansion cannot explode: at most
 * MAX_COMMAS commas (<= 2^MAX_COMMAS results) and MAX_LEN bytes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/scp/match.h"
#include "util/err.h"
#include "util/strvec.h"

#define MAX_LEN		256
#define MAX_COMMAS	12

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fail(const char *what, const char *pat)
{
	fprintf(stderr, "fuzz_brace: %s (pattern \"%s\")\n", what, pat);
	abort();
}

static char *
dupn(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s == NULL) {
		abort();
	}
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strvec exp, pats;
	const char *slash, *base;
	char *pat, *name;
	size_t split, i, commas = 0, plen;
	int r, r2;

	if (size > MAX_LEN) {
		return 0;
	}
	for (split = 0; split < size && data[split] != '\0' &&
	    data[split] != '\n'; split++) {
		if (data[split] == ',') {
			commas++;
		}
	}
	if (commas > MAX_COMMAS) {
		return 0;
	}
	pat = dupn(data, split);
	name = split < size ? dupn(data + split + 1, size - split - 1) :
	    dupn(data, 0);
	plen = strlen(pat);

	strvec_init(&exp);
	strvec_init(&pats);
	r = scp_brace_expand(pat, &exp);
	if (r != 0 && r != SCP_E_FORMAT) {
		fail("unexpected error code", pat);
	}
	if (exp.v == NULL || exp.v[exp.n] != NULL) {
		fail("vector not NULL-terminated", pat);
	}
	if (exp.n > ((size_t)1 << commas)) {
		fail("more expansions than 2^commas", pat);
	}
	for (i = 0; i < exp.n; i++) {
		if (strlen(exp.v[i]) > plen ||
		    (strlen(exp.v[i]) == plen && strcmp(exp.v[i], pat) != 0)) {
			fail("expansion not shorter than the pattern", pat);
		}
	}

	r2 = scp_match_prepare(pat, &pats);
	if (r2 != r) {
		fail("match_prepare and brace_expand disagree", pat);
	}
	if (r == 0) {
		if (pats.n != exp.n) {
			fail("match_prepare count differs", pat);
		}
		/*
		 * The order is unspecified, but both come from the same
		 * expansion: compare as a multiset of last components via
		 * matching each expansion's base against the patterns.
		 */
		for (i = 0; i < exp.n; i++) {
			slash = strrchr(exp.v[i], '/');
			base = slash != NULL ? slash + 1 : exp.v[i];
			if (!scp_match_name(&pats, base)) {
				fail("a requested name is refused", pat);
			}
		}
		/* The peer's name: any answer is fine, it must not crash. */
		(void)scp_match_name(&pats, name);
	}

	strvec_clear(&exp);
	strvec_clear(&pats);
	free(pat);
	free(name);
	return 0;
}
