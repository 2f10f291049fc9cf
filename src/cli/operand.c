/*
 * Operand parsing, PROTOCOL.md section 1 "Operand parsing".
 */
#include "operand.h"

#include <stdlib.h>
#include <string.h>

#include "../util/err.h"
#include "../util/parse.h"
#include "../util/xmalloc.h"

static const char uri_scheme[] = "scp://";

const char *
operand_colon(const char *s)
{
	int bracket = 0;

	if (*s == ':') {
		return NULL;
	}
	if (*s == '[') {
		bracket = 1;
	}
	for (; *s != '\0'; s++) {
		if (s[0] == '@' && s[1] == '[') {
			bracket = 1;
		}
		if (bracket && s[0] == ']' && s[1] == ':') {
			return s + 1;
		}
		if (!bracket && s[0] == ':') {
			return s;
		}
		if (s[0] == '/') {
			return NULL;
		}
	}
	return NULL;
}

int
operand_is_uri(const char *s)
{
	return strncmp(s, uri_scheme, sizeof(uri_scheme) - 1) == 0;
}

int
operand_is_remote(const char *s)
{
	return operand_is_uri(s) || operand_colon(s) != NULL;
}

int
operand_okname(const char *user)
{
	const unsigned char *p;

	for (p = (const unsigned char *)user; *p != '\0'; p++) {
		if (*p & 0x80) {
			return 0;
		}
		switch (*p) {
		case '\'':
		case '"':
		case '`':
		case ' ':
		case '#':
			return 0;
		default:
			break;
		}
	}
	return 1;
}

void
operand_free(struct operand *op)
{
	free(op->user);
	free(op->host);
	free(op->path);
	op->user = op->host = op->path = NULL;
}

static void
operand_clear(struct operand *op)
{
	op->user = NULL;
	op->host = NULL;
	op->path = NULL;
	op->port = -1;
	op->is_uri = 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	if (c >= 'A' && c <= 'F') {
		return c - 'A' + 10;
	}
	return -1;
}

/*
 * %XX and '+' decoding of n bytes at s (OpenSSH urldecode).  "%00" is
 * refused: it would silently cut the string.  NULL if malformed.
 */
static char *
urldecode(const char *s, size_t n)
{
	char *out, *d;
	size_t i;
	int hi, lo;

	out = d = xmalloc(n + 1);
	for (i = 0; i < n; i++) {
		if (s[i] == '+') {
			*d++ = ' ';
		} else if (s[i] == '%') {
			if (n - i < 3 || (hi = hexval(s[i + 1])) < 0 ||
			    (lo = hexval(s[i + 2])) < 0 ||
			    (hi == 0 && lo == 0)) {
				free(out);
				return NULL;
			}
			*d++ = (char)(hi << 4 | lo);
			i += 2;
		} else {
			*d++ = s[i];
		}
	}
	*d = '\0';
	return out;
}

static int
is_alnum(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z');
}

/* OpenSSH valid_domain(): alnum start, [-._a-z0-9] after, no "..". */
static int
valid_domain(const char *s)
{
	size_t i;

	if (!is_alnum(s[0])) {
		return 0;
	}
	for (i = 0; s[i] != '\0'; i++) {
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '.' &&
		    s[i] != '_') {
			return 0;
		}
		if (s[i] == '.' && i > 0 && s[i - 1] == '.') {
			return 0;
		}
	}
	return 1;
}

/*
 * A bracketed address: hex digits, ':' and '.' (v4-mapped), and after a
 * '%' a zone name.  OpenSSH refuses brackets in URIs; we accept them
 * (PROTOCOL.md section 6 lists that as beatable).
 */
static int
valid_v6(const char *s)
{
	int zone = 0;

	if (*s == '\0' || strchr(s, ':') == NULL) {
		return 0;
	}
	for (; *s != '\0'; s++) {
		if (zone) {
			if (!is_alnum(*s) && *s != '-' && *s != '_' &&
			    *s != '.') {
				return 0;
			}
		} else if (*s == '%') {
			zone = 1;
			if (s[1] == '\0') {
				return 0;
			}
		} else if (hexval(*s) < 0 && *s != ':' && *s != '.') {
			return 0;
		}
	}
	return 1;
}

/*
 * scp://[user[;params]@]host[:port][/path], OpenSSH parse_uri("scp")
 * plus parse_scp_uri's "." default.
 */
static int
parse_uri(const char *arg, struct operand *op)
{
	const char *p, *at, *semi, *hend, *rest;
	char *host;
	size_t ulen;

	op->is_uri = 1;
	p = arg + sizeof(uri_scheme) - 1;

	/* The user part ends at the first '@' (it must be %-encoded). */
	if ((at = strchr(p, '@')) != NULL) {
		ulen = (size_t)(at - p);
		if ((semi = memchr(p, ';', ulen)) != NULL) {
			ulen = (size_t)(semi - p);	/* params ignored */
		}
		if (ulen == 0) {
			return SCP_E_FORMAT;
		}
		if ((op->user = urldecode(p, ulen)) == NULL) {
			return SCP_E_FORMAT;
		}
		p = at + 1;
	}

	if (*p == '[') {
		if ((hend = strchr(p, ']')) == NULL) {
			return SCP_E_FORMAT;
		}
		host = xstrndup(p + 1, (size_t)(hend - p - 1));
		rest = hend + 1;
		if (*rest != '\0' && *rest != ':' && *rest != '/') {
			free(host);
			return SCP_E_FORMAT;
		}
		op->host = host;
		if (!valid_v6(host)) {
			return SCP_E_FORMAT;
		}
	} else {
		hend = p + strcspn(p, ":/");
		op->host = xstrndup(p, (size_t)(hend - p));
		rest = hend;
		if (!valid_domain(op->host)) {
			return SCP_E_FORMAT;
		}
	}

	if (*rest == ':') {
		const char *pend;
		char *portstr;
		int port, r;

		rest++;
		pend = rest + strcspn(rest, "/");
		portstr = xstrndup(rest, (size_t)(pend - rest));
		r = parse_port(portstr, &port);
		free(portstr);
		if (r != 0 || port <= 0) {
			return SCP_E_FORMAT;
		}
		op->port = port;
		rest = pend;
	}
	/* The '/' after host[:port] only separates: scp://h/dir is "dir",
	 * scp://h//abs is "/abs". */
	if (*rest == '/') {
		rest++;
	}
	if (*rest != '\0') {
		if ((op->path = urldecode(rest, strlen(rest))) == NULL) {
			return SCP_E_FORMAT;
		}
	} else {
		op->path = xstrdup(".");
	}
	if (op->user != NULL && !operand_okname(op->user)) {
		return SCP_E_UNSAFE;
	}
	return 0;
}

/* OpenSSH cleanhostname(): "[addr]" -> "addr". */
static char *
clean_host(const char *s, size_t n)
{
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		return xstrndup(s + 1, n - 2);
	}
	return xstrndup(s, n);
}

int
operand_parse(const char *arg, struct operand *op)
{
	const char *sep, *at, *p;

	operand_clear(op);
	if (operand_is_uri(arg)) {
		return parse_uri(arg, op);
	}
	if ((sep = operand_colon(arg)) == NULL) {
		op->path = xstrdup(arg);
		return 0;
	}
	op->path = xstrdup(sep[1] == '\0' ? "." : sep + 1);

	/* The user is everything before the last '@' of the host part. */
	at = NULL;
	for (p = arg; p < sep; p++) {
		if (*p == '@') {
			at = p;
		}
	}
	if (at != NULL) {
		if (at > arg) {
			op->user = xstrndup(arg, (size_t)(at - arg));
		}
		op->host = clean_host(at + 1, (size_t)(sep - at - 1));
	} else {
		op->host = clean_host(arg, (size_t)(sep - arg));
	}
	if (op->user != NULL && !operand_okname(op->user)) {
		return SCP_E_UNSAFE;
	}
	return 0;
}
