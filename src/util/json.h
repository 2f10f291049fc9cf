/*
 * The JSON text of --json (doc/scp.1 "JSON EVENTS"): a growable line
 * buffer and the one string-escaping function every name and message
 * goes through.
 *
 * Names on Unix are bytes, not text.  json_escape() writes valid UTF-8
 * as is (escaping only '"', '\\' and the control characters) and each
 * byte that is not part of a valid UTF-8 sequence as the lone surrogate
 * \udcXX (XX = the byte, 80-ff), Python's "surrogateescape" (PEP 383):
 * valid UTF-8 never encodes a surrogate, so the mapping is lossless and
 * unambiguous; json_unescape() reverses it.
 *
 * A struct jbuf owns its memory (xmalloc: out of memory exits, so no
 * function here fails); its text is NUL-terminated after any call.
 */
#ifndef SCP_UTIL_JSON_H
#define SCP_UTIL_JSON_H

#include <stddef.h>
#include <stdint.h>

struct jbuf {
	char *p;	/* NULL until the first append */
	size_t len;	/* bytes of text, without the NUL */
	size_t cap;
};

void jbuf_init(struct jbuf *b);
/* Frees the text; `b` is empty and reusable afterwards. */
void jbuf_free(struct jbuf *b);
/* Empties `b`, keeping its memory. */
void jbuf_reset(struct jbuf *b);
void jbuf_add(struct jbuf *b, const char *s, size_t n);
void jbuf_adds(struct jbuf *b, const char *s);
void jbuf_addf(struct jbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Appends s[0..n) as one JSON string literal, quotes included.  Any
 * bytes are accepted (NUL too); see above for the invalid-UTF-8 rule.
 */
void json_escape(struct jbuf *b, const char *s, size_t n);
/* json_escape() of a NUL-terminated string; NULL becomes null. */
void json_escape_str(struct jbuf *b, const char *s);

/*
 * Decodes one JSON string literal at in[0..n) (starting with '"') back
 * into bytes, the inverse of json_escape(): \udc80-\udcff become the
 * byte, other \u escapes UTF-8 (a surrogate pair one character).
 * *used is set to the literal's length.  Returns 0, or -1 when the
 * text is not a valid literal or holds a lone surrogate outside
 * dc80-dcff.  For tests and the fuzz target (what we write, read back).
 */
int json_unescape(const char *in, size_t n, struct jbuf *out, size_t *used);

#endif
