/*
 * The CVE-2019-6111 check of the legacy sink (PROTOCOL.md section 2):
 * a file name the server sends must match what the user asked for.
 *
 * OpenSSH's brace_expand() semantics: the first top-level "{...}" is
 * found honouring backslash escapes and "[...]" brackets, a literal "{}"
 * is not a brace, the selection is split on top-level commas, and each
 * alternative is expanded again until nothing expands.
 */
#ifndef SCP_PROTO_SCP_MATCH_H
#define SCP_PROTO_SCP_MATCH_H

#include "../../util/strvec.h"

/*
 * Appends every full expansion of `pattern` to `out` (order unspecified).
 * Returns 0, or SCP_E_FORMAT for unbalanced braces or brackets ("invalid
 * brace pattern"), in which case `out` may hold partial results.
 */
int scp_brace_expand(const char *pattern, struct strvec *out);

/*
 * Prepares the name patterns for a requested remote path: the brace
 * expansions, each reduced to what follows its last '/'.  0 or
 * SCP_E_FORMAT as above.
 */
int scp_match_prepare(const char *requested, struct strvec *pats);

/* 1 if `name` equals one of `pats` or fnmatch(pat, name, 0) matches. */
int scp_match_name(const struct strvec *pats, const char *name);

#endif
