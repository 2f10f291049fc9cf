#include "parse.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stddef.h>

#include "err.h"

int
parse_u64(const char **p, uint64_t max, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	unsigned int d;

	if (*s < '0' || *s > '9') {
		return SCP_E_FORMAT;
	}
	for (; *s >= '0' && *s <= '9'; s++) {
		d = (unsigned int)(*s - '0');
		if (v > (max - d) / 10) {
			return SCP_E_RANGE;
		}
		v = v * 10 + d;
	}
	*p = s;
	*out = v;
	return SCP_OK;
}

int
parse_octal(const char **p, unsigned int ndigits, int exact, uint64_t max,
    uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	unsigned int n = 0, d;

	for (; *s >= '0' && *s <= '7'; s++) {
		if (ndigits != 0 && n == ndigits) {
			break;
		}
		d = (unsigned int)(*s - '0');
		if (v > (max - d) / 8) {
			return SCP_E_RANGE;
		}
		v = v * 8 + d;
		n++;
	}
	if (n == 0 || (exact && n != ndigits)) {
		return SCP_E_FORMAT;
	}
	*p = s;
	*out = v;
	return SCP_OK;
}

int
parse_uint_str(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	const char *p = s;
	uint64_t v;
	int r;

	if ((r = parse_u64(&p, UINT64_MAX, &v)) != 0) {
		return r;
	}
	if (*p != '\0') {
		return SCP_E_FORMAT;
	}
	if (v < min || v > max) {
		return SCP_E_RANGE;
	}
	*out = v;
	return SCP_OK;
}

int
parse_scaled(const char *s, uint64_t *out)
{
	static const char units[] = "BKMGTPE";
	const char *p = s;
	uint64_t v;
	unsigned int i, shift = 0;
	int r;
	char c;

	if ((r = parse_u64(&p, UINT64_MAX, &v)) != 0) {
		return r;
	}
	if (*p != '\0') {
		c = *p;
		if (c >= 'a' && c <= 'z') {
			c = (char)(c - 'a' + 'A');
		}
		for (i = 0; units[i] != '\0'; i++) {
			if (units[i] == c) {
				break;
			}
		}
		if (units[i] == '\0' || p[1] != '\0') {
			return SCP_E_FORMAT;
		}
		shift = 10 * i;
	}
	if (shift > 0 && v > (UINT64_MAX >> shift)) {
		return SCP_E_RANGE;
	}
	*out = v << shift;
	return SCP_OK;
}

int
parse_port(const char *s, int *out)
{
	struct servent *se;
	uint64_t v;
	int r;

	if (*s >= '0' && *s <= '9') {
		if ((r = parse_uint_str(s, 0, 65535, &v)) != 0) {
			return r;
		}
		*out = (int)v;
		return SCP_OK;
	}
	if (*s == '\0' || (se = getservbyname(s, "tcp")) == NULL) {
		return SCP_E_FORMAT;
	}
	*out = ntohs((uint16_t)se->s_port);
	return SCP_OK;
}

int
off_from_u64(uint64_t v, off_t *out)
{
	/* off_t is a signed 64-bit type on every platform we build for. */
	_Static_assert(sizeof(off_t) == 8, "64-bit off_t required");
	if (v > (uint64_t)INT64_MAX) {
		return SCP_E_RANGE;
	}
	*out = (off_t)v;
	return SCP_OK;
}

int
time_from_u64(uint64_t v, time_t *out)
{
	_Static_assert(sizeof(time_t) == 8, "64-bit time_t required");
	if (v > (uint64_t)INT64_MAX) {
		return SCP_E_RANGE;
	}
	*out = (time_t)v;
	return SCP_OK;
}
