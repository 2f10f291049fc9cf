/*
 * Making peer-controlled text safe for a terminal, and the vis(3)
 * encoding the legacy protocol applies to names with newlines.
 */
#ifndef SCP_UTIL_SANITIZE_H
#define SCP_UTIL_SANITIZE_H

#include <stddef.h>

/* Call once at start-up (OpenSSH msetlocale): LC_CTYPE from the
 * environment, so that valid printable UTF-8 passes in a UTF-8 locale. */
void sanitize_setlocale(void);

/* Renders s[0..len) for a terminal: printable characters of the current
 * locale (and tab) pass, every other byte becomes "\ooo" (OpenSSH's
 * VIS_OCTAL|VIS_ALL).  Writes at most `outsz` bytes including the NUL
 * and returns the length that would have been written. */
size_t sanitize_buf(char *out, size_t outsz, const char *s, size_t len);

/* Same, as a new string the caller frees; NULL on ENOMEM. */
char *sanitize_dup(const char *s);

/*
 * Like sanitize_buf, but stops before the output would occupy more than
 * `max_cols` display columns; *cols receives the columns used.  Used by
 * the progress meter.
 */
size_t sanitize_cols(char *out, size_t outsz, const char *s,
    size_t max_cols, size_t *cols);

/*
 * vis(3) with VIS_NL semantics as OpenSSH's scp applies it to a name
 * sent in a C or D record: only when the name contains a newline; then
 * newline becomes "\^J", other control bytes "\^X", bytes >= 0x80
 * "\M-x", backslash "\\".  Returns a new string (possibly an unchanged
 * copy) the caller frees, or NULL on ENOMEM.
 */
char *scp_vis_name(const char *name);

#endif
