/*
 * JSON strings for --json (json.h).  The rules of RFC 8259 section 7,
 * plus the surrogateescape mapping of bytes that are not UTF-8.
 */
#include "json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

void
jbuf_init(struct jbuf *b)
{
	memset(b, 0, sizeof(*b));
}

void
jbuf_free(struct jbuf *b)
{
	free(b->p);
	jbuf_init(b);
}

void
jbuf_reset(struct jbuf *b)
{
	b->len = 0;
	if (b->p != NULL) {
		b->p[0] = '\0';
	}
}

/* Room for `n` more bytes and the NUL. */
static void
jbuf_grow(struct jbuf *b, size_t n)
{
	size_t want;

	if (n > SIZE_MAX / 4 - b->len) {
		abort();	/* no line of ours comes near this */
	}
	want = b->len + n + 1;
	if (want <= b->cap) {
		return;
	}
	b->cap = b->cap < 256 ? 256 : b->cap;
	while (b->cap < want) {
		b->cap *= 2;
	}
	b->p = xreallocarray(b->p, b->cap, 1);
}

void
jbuf_add(struct jbuf *b, const char *s, size_t n)
{
	jbuf_grow(b, n);
	if (n > 0) {
		memcpy(b->p + b->len, s, n);
	}
	b->len += n;
	b->p[b->len] = '\0';
}

void
jbuf_adds(struct jbuf *b, const char *s)
{
	jbuf_add(b, s, strlen(s));
}

void
jbuf_addf(struct jbuf *b, const char *fmt, ...)
{
	va_list ap;
	char *m;

	va_start(ap, fmt);
	m = xvasprintf(fmt, ap);
	va_end(ap);
	jbuf_adds(b, m);
	free(m);
}

/*
 * Length of the well-formed UTF-8 sequence at s[0..n) (RFC 3629 section
 * 4: no overlong forms, no surrogates, nothing past U+10FFFF), or 0.
 */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (s[0] < 0x80) {
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		if (s[0] == 0xe0) {
			lo = 0xa0;
		} else if (s[0] == 0xed) {
			hi = 0x9f;	/* U+D800..DFFF are not characters */
		}
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		if (s[0] == 0xf0) {
			lo = 0x90;
		} else if (s[0] == 0xf4) {
			hi = 0x8f;
		}
	} else {
		return 0;
	}
	if (n < len || s[1] < lo || s[1] > hi) {
		return 0;
	}
	for (i = 2; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			return 0;
		}
	}
	return len;
}

void
json_escape(struct jbuf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, run, k;

	jbuf_add(b, "\"", 1);
	while (i < n) {
		/* Copy the longest stretch that needs no escape at once. */
		run = 0;
		while (i + run < n && u[i + run] >= 0x20 &&
		    u[i + run] != '"' && u[i + run] != '\\' &&
		    (k = utf8_len(u + i + run, n - i - run)) != 0) {
			run += k;
		}
		jbuf_add(b, s + i, run);
		i += run;
		if (i >= n) {
			break;
		}
		switch (u[i]) {
		case '"':
			jbuf_add(b, "\\\"", 2);
			break;
		case '\\':
			jbuf_add(b, "\\\\", 2);
			break;
		case '\n':
			jbuf_add(b, "\\n", 2);
			break;
		case '\r':
			jbuf_add(b, "\\r", 2);
			break;
		case '\t':
			jbuf_add(b, "\\t", 2);
			break;
		default:
			/* A control character, or a byte that starts no
			 * valid sequence: one escape for this byte only. */
			jbuf_addf(b, "\\u%04x", u[i] < 0x80 ? (unsigned)u[i] :
			    0xdc00u + u[i]);
			break;
		}
		i++;
	}
	jbuf_add(b, "\"", 1);
}

void
json_escape_str(struct jbuf *b, const char *s)
{
	if (s == NULL) {
		jbuf_add(b, "null", 4);
		return;
	}
	json_escape(b, s, strlen(s));
}

static int
hex4(const char *p, unsigned *v)
{
	unsigned x = 0;
	int i;

	for (i = 0; i < 4; i++) {
		x <<= 4;
		if (p[i] >= '0' && p[i] <= '9') {
			x |= (unsigned)(p[i] - '0');
		} else if (p[i] >= 'a' && p[i] <= 'f') {
			x |= (unsigned)(p[i] - 'a' + 10);
		} else if (p[i] >= 'A' && p[i] <= 'F') {
			x |= (unsigned)(p[i] - 'A' + 10);
		} else {
			return -1;
		}
	}
	*v = x;
	return 0;
}

static void
put_utf8(struct jbuf *out, unsigned long c)
{
	char t[4];
	size_t n;

	if (c < 0x80) {
		t[0] = (char)c;
		n = 1;
	} else if (c < 0x800) {
		t[0] = (char)(0xc0 | (c >> 6));
		t[1] = (char)(0x80 | (c & 0x3f));
		n = 2;
	} else if (c < 0x10000) {
		t[0] = (char)(0xe0 | (c >> 12));
		t[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		t[2] = (char)(0x80 | (c & 0x3f));
		n = 3;
	} else {
		t[0] = (char)(0xf0 | (c >> 18));
		t[1] = (char)(0x80 | ((c >> 12) & 0x3f));
		t[2] = (char)(0x80 | ((c >> 6) & 0x3f));
		t[3] = (char)(0x80 | (c & 0x3f));
		n = 4;
	}
	jbuf_add(out, t, n);
}

/* One escape after the backslash at in[i]; advances *i past it. */
static int
unescape_one(const char *in, size_t n, size_t *i, struct jbuf *out)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *p;
	unsigned v, w;

	if (*i + 1 >= n) {
		return -1;
	}
	if (in[*i + 1] != 'u') {
		if (in[*i + 1] == '\0' ||
		    (p = strchr(from, in[*i + 1])) == NULL) {
			return -1;
		}
		jbuf_add(out, &to[p - from], 1);
		*i += 2;
		return 0;
	}
	if (n - *i < 6 || hex4(in + *i + 2, &v) != 0) {
		return -1;
	}
	*i += 6;
	if (v >= 0xdc80 && v <= 0xdcff) {
		jbuf_add(out, (const char[]){ (char)(v - 0xdc00) }, 1);
		return 0;
	}
	if (v >= 0xd800 && v <= 0xdbff) {
		if (n - *i < 6 || in[*i] != '\\' || in[*i + 1] != 'u' ||
		    hex4(in + *i + 2, &w) != 0 || w < 0xdc00 || w > 0xdfff) {
			return -1;
		}
		*i += 6;
		put_utf8(out, 0x10000UL + (((unsigned long)v - 0xd800) << 10) +
		    (w - 0xdc00));
		return 0;
	}
	if (v >= 0xdc00 && v <= 0xdfff) {
		return -1;
	}
	put_utf8(out, v);
	return 0;
}

int
json_unescape(const char *in, size_t n, struct jbuf *out, size_t *used)
{
	const unsigned char *u = (const unsigned char *)in;
	size_t i = 1, k;

	if (n == 0 || in[0] != '"') {
		return -1;
	}
	while (i < n) {
		if (in[i] == '"') {
			*used = i + 1;
			return 0;
		}
		if (in[i] == '\\') {
			if (unescape_one(in, n, &i, out) != 0) {
				return -1;
			}
			continue;
		}
		/* RFC 8259: raw control characters are not allowed. */
		if (u[i] < 0x20 || (k = utf8_len(u + i, n - i)) == 0) {
			return -1;
		}
		jbuf_add(out, in + i, k);
		i += k;
	}
	return -1;
}
