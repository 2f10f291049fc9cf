/*
 * Legacy protocol control records (PROTOCOL.md section 2).  The checks
 * and their messages follow OpenSSH's sink(); see record.h.
 */
#include "record.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../util/err.h"
#include "../../util/parse.h"
#include "../../util/sanitize.h"
#include "../../util/xmalloc.h"

static int
is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/*
 * Decimal digits at *p.  A value too large for uint64_t is not an error
 * here: OpenSSH's strtoull saturates and the caller then decides (size
 * out of range, or times ignored), so *over reports it and *p still moves
 * past every digit so that the delimiter check comes first, as there.
 */
static int
digits_u64(const char **p, uint64_t *v, int *over)
{
	const char *s = *p;
	int r;

	*over = 0;
	if (!is_digit(*s)) {
		return SCP_E_FORMAT;
	}
	r = parse_u64(&s, UINT64_MAX, v);
	if (r == SCP_E_RANGE) {
		*over = 1;
		*v = UINT64_MAX;
		s = *p;
		while (is_digit(*s)) {
			s++;
		}
	} else if (r != 0) {
		return r;
	}
	*p = s;
	return 0;
}

/* Microseconds: 1 to 6 digits worth 0..999999 (stricter than strtol). */
static int
digits_usec(const char **p, long *usec)
{
	uint64_t v;
	int over;

	if (digits_u64(p, &v, &over) != 0 || over || v > 999999) {
		return SCP_E_FORMAT;
	}
	*usec = (long)v;
	return 0;
}

int
scp_record_parse_cd(const char *line, struct scp_record_cd *r,
    const char **why)
{
	const char *p = line;
	uint64_t v;
	int over;

	*why = NULL;
	if (line[0] != 'C' && line[0] != 'D') {
		*why = "expected control record";
		return SCP_E_FORMAT;
	}
	p++;
	if (parse_octal(&p, 4, 1, 07777, &v) != 0) {
		*why = "bad mode";
		return SCP_E_FORMAT;
	}
	if (*p++ != ' ') {
		*why = "mode not delimited";
		return SCP_E_FORMAT;
	}
	r->type = line[0];
	r->mode = (mode_t)v;
	if (!is_digit(*p)) {
		*why = "size not present";
		return SCP_E_FORMAT;
	}
	if (digits_u64(&p, &v, &over) != 0) {
		*why = "size not present";
		return SCP_E_FORMAT;
	}
	if (*p++ != ' ') {
		*why = "size not delimited";
		return SCP_E_FORMAT;
	}
	if (over || v > INT64_MAX) {
		*why = "size out of range";
		return SCP_E_RANGE;
	}
	r->size = v;
	r->name = p;
	return 0;
}

int
scp_record_parse_t(const char *line, struct scp_record_times *t,
    const char **why)
{
	const char *p = line;
	uint64_t msec, asec;
	int mover, aover;

	*why = NULL;
	if (*p++ != 'T') {
		*why = "expected control record";
		return SCP_E_FORMAT;
	}
	if (!is_digit(*p) || digits_u64(&p, &msec, &mover) != 0) {
		*why = "mtime.sec not present";
		return SCP_E_FORMAT;
	}
	if (*p++ != ' ') {
		*why = "mtime.sec not delimited";
		return SCP_E_FORMAT;
	}
	if (digits_usec(&p, &t->mtime_usec) != 0 || *p++ != ' ') {
		*why = "mtime.usec not delimited";
		return SCP_E_FORMAT;
	}
	if (!is_digit(*p) || digits_u64(&p, &asec, &aover) != 0) {
		*why = "atime.sec not present";
		return SCP_E_FORMAT;
	}
	if (*p++ != ' ') {
		*why = "atime.sec not delimited";
		return SCP_E_FORMAT;
	}
	if (digits_usec(&p, &t->atime_usec) != 0 || *p != '\0') {
		*why = "atime.usec not delimited";
		return SCP_E_FORMAT;
	}
	/* Out-of-range times are dropped, not fatal (OpenSSH). */
	t->valid = !mover && !aover && time_from_u64(msec, &t->mtime) == 0 &&
	    time_from_u64(asec, &t->atime) == 0;
	if (!t->valid) {
		t->mtime = t->atime = 0;
	}
	return 0;
}

int
scp_record_format_cd(char type, mode_t mode, uint64_t size,
    const char *name, char **out)
{
	char *enc;

	*out = NULL;
	if (size > INT64_MAX) {
		return SCP_E_RANGE;
	}
	if ((enc = scp_vis_name(name)) == NULL) {
		return SCP_E_NOMEM;
	}
	if (type == 'D') {
		*out = xasprintf("D%04o 0 %.1024s\n",
		    (unsigned int)(mode & SCP_FILEMODEMASK), enc);
	} else {
		*out = xasprintf("C%04o %" PRIu64 " %s\n",
		    (unsigned int)(mode & SCP_FILEMODEMASK), size, enc);
	}
	free(enc);
	return 0;
}

int
scp_record_format_t(char *out, size_t outsz, time_t mtime, time_t atime)
{
	int n;

	n = snprintf(out, outsz, "T%lld 0 %lld 0\n",
	    (long long)(mtime < 0 ? 0 : mtime),
	    (long long)(atime < 0 ? 0 : atime));
	if (n < 0 || (size_t)n >= outsz) {
		return SCP_E_TOOBIG;
	}
	return 0;
}
