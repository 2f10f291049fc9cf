#include "sanitize.h"

#include <langinfo.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wchar.h>

void
sanitize_setlocale(void)
{
	const char *vars[] = { "LC_ALL", "LC_CTYPE", "LANG", NULL };
	const char *cp;
	int i;

	/* As OpenSSH: Turkish locales fall back to C (dotless i). */
	for (i = 0; vars[i] != NULL; i++) {
		if ((cp = getenv(vars[i])) == NULL || *cp == '\0') {
			continue;
		}
		if (strncasecmp(cp, "TR", 2) != 0) {
			break;
		}
		if ((strcasestr(cp, "UTF-8") != NULL ||
		    strcasestr(cp, "UTF8") != NULL) &&
		    setlocale(LC_CTYPE, "C.UTF-8") != NULL) {
			return;
		}
		setlocale(LC_CTYPE, "C");
		return;
	}
	setlocale(LC_CTYPE, "");
}

/*
 * Appends `n` bytes if they fit and nothing was dropped before (so the
 * output is always a prefix of the full rendering); always counts them
 * in *pos.  *fill is the number of bytes really stored.
 */
static void
emit(char *out, size_t outsz, size_t *pos, size_t *fill, const char *p,
    size_t n)
{
	if (outsz > 0 && *fill == *pos && *pos + n < outsz) {
		memcpy(out + *pos, p, n);
		*fill += n;
	}
	*pos += n;
}

static size_t
sanitize_impl(char *out, size_t outsz, const char *s, size_t len,
    size_t max_cols, size_t *colsp)
{
	mbstate_t st;
	wchar_t wc;
	size_t pos = 0, fill = 0, cols = 0, n;
	int w;
	char esc[5];
	int stopped = 0;

	memset(&st, 0, sizeof(st));
	while (len > 0 && !stopped) {
		n = mbrtowc(&wc, s, len, &st);
		if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
			memset(&st, 0, sizeof(st));
			n = 1;
			w = -1;
		} else if (wc == L'\t' && colsp == NULL) {
			w = 0;
		} else {
			w = wcwidth(wc);
		}
		if (w >= 0) {
			if (cols + (size_t)w > max_cols) {
				break;
			}
			emit(out, outsz, &pos, &fill, s, n);
			cols += (size_t)w;
			s += n;
			len -= n;
			continue;
		}
		while (n > 0) {
			if (cols + 4 > max_cols) {
				stopped = 1;
				break;
			}
			esc[0] = '\\';
			esc[1] = (char)('0' + (((unsigned char)*s >> 6) & 7));
			esc[2] = (char)('0' + (((unsigned char)*s >> 3) & 7));
			esc[3] = (char)('0' + ((unsigned char)*s & 7));
			emit(out, outsz, &pos, &fill, esc, 4);
			cols += 4;
			s++;
			len--;
			n--;
		}
	}
	if (outsz > 0) {
		out[fill] = '\0';
	}
	if (colsp != NULL) {
		*colsp = cols;
	}
	return pos;
}

size_t
sanitize_buf(char *out, size_t outsz, const char *s, size_t len)
{
	return sanitize_impl(out, outsz, s, len, (size_t)-1, NULL);
}

size_t
sanitize_cols(char *out, size_t outsz, const char *s, size_t max_cols,
    size_t *cols)
{
	size_t c;

	return sanitize_impl(out, outsz, s, strlen(s), max_cols,
	    cols != NULL ? cols : &c);
}

char *
sanitize_dup(const char *s)
{
	size_t len = strlen(s), need;
	char *out;

	need = sanitize_buf(NULL, 0, s, len) + 1;
	if ((out = malloc(need)) == NULL) {
		return NULL;
	}
	sanitize_buf(out, need, s, len);
	return out;
}

char *
scp_vis_name(const char *name)
{
	const unsigned char *p;
	char *out, *o;
	unsigned char c;
	int meta;

	if (strchr(name, '\n') == NULL) {
		return strdup(name);
	}
	/* Worst case per byte: "\M-\^X" is 6 bytes. */
	if ((out = malloc(strlen(name) * 6 + 1)) == NULL) {
		return NULL;
	}
	o = out;
	for (p = (const unsigned char *)name; *p != '\0'; p++) {
		c = *p;
		meta = 0;
		if (c == '\\') {
			*o++ = '\\';
			*o++ = '\\';
			continue;
		}
		if (c >= 0x80) {
			*o++ = '\\';
			*o++ = 'M';
			meta = 1;
			c &= 0x7f;
			if (c >= 0x20 && c != 0x7f) {
				*o++ = '-';
				*o++ = (char)c;
				continue;
			}
		} else if (c >= 0x20 && c != 0x7f) {
			*o++ = (char)c;
			continue;
		}
		if (!meta) {
			*o++ = '\\';
		}
		*o++ = '^';
		*o++ = c == 0x7f ? '?' : (char)(c + '@');
	}
	*o = '\0';
	return out;
}
