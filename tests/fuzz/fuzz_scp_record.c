/*
 * libFuzzer target: the legacy protocol's control records (PROTOCOL.md
 * section 2, src/proto/scp/record.h).
 *
 * 1. The input, cut at its first newline as the sink would, is parsed
 *    as a C/D record and as a T record.  Whatever parses must survive a
 *    format/parse round trip unchanged (mode masked with 06777 as the
 *    source sends it, D names cut at 1024 bytes).
 * 2. The input read as (mode, size, time, time, name) is formatted, so
 *    that names with newlines and 8-bit bytes reach the formatter: the
 *    result must be exactly one line that parses back to what was given
 *    (a name must never be able to smuggle a second record).
 * Any violation aborts, which libFuzzer reports as a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/scp/record.h"
#include "util/err.h"
#include "util/sanitize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fail(const char *what, const char *line)
{
	fprintf(stderr, "fuzz_scp_record: %s (line \"%s\")\n", what,
	    line != NULL ? line : "");
	abort();
}

/* Formats a C/D record and returns it parsed back; aborts on failure. */
static char *
format_parse(char type, mode_t mode, uint64_t sz, const char *name,
    struct scp_record_cd *back)
{
	const char *why;
	char *out, *nl;
	int r;

	if ((r = scp_record_format_cd(type, mode, sz, name, &out)) != 0) {
		/* The header allows this for D too (size "ignored"). */
		if (r == SCP_E_RANGE && sz > INT64_MAX) {
			return NULL;
		}
		fail("format_cd failed", name);
	}
	/* Exactly one newline, at the very end. */
	nl = strchr(out, '\n');
	if (nl == NULL || nl[1] != '\0') {
		fail("formatted record is not one line", out);
	}
	*nl = '\0';
	if (scp_record_parse_cd(out, back, &why) != 0) {
		fail("formatted record does not parse", out);
	}
	if (back->type != type ||
	    back->mode != (mode & SCP_FILEMODEMASK) ||
	    back->size != (type == 'C' ? sz : 0)) {
		fail("record fields changed in a round trip", out);
	}
	return out;
}

/* The name a record carries for `name`: vis-encoded, D cut at 1024. */
static void
check_name(char type, const char *name, const char *got, const char *line)
{
	char *enc;
	size_t n;

	if ((enc = scp_vis_name(name)) == NULL) {
		fail("scp_vis_name failed", line);
	}
	n = strlen(enc);
	if (type == 'D' && n > 1024) {
		n = 1024;
	}
	if (strlen(got) != n || memcmp(got, enc, n) != 0) {
		fail("name changed in a round trip", line);
	}
	if (strchr(name, '\n') == NULL && strcmp(enc, name) != 0) {
		fail("a name without newline was encoded", line);
	}
	free(enc);
}

static void
check_parsed_line(const char *line)
{
	struct scp_record_cd cd, back;
	struct scp_record_times t, tb;
	const char *why;
	char tbuf[128], *out, *nl;
	int r;

	r = scp_record_parse_cd(line, &cd, &why);
	if (r == 0) {
		if (why != NULL || (cd.type != 'C' && cd.type != 'D') ||
		    cd.mode > 07777 || cd.size > INT64_MAX ||
		    cd.name < line || cd.name > line + strlen(line)) {
			fail("parse_cd returned bad fields", line);
		}
		out = format_parse(cd.type, cd.mode, cd.size, cd.name, &back);
		check_name(cd.type, cd.name, back.name, line);
		free(out);
	} else if (why == NULL || (r != SCP_E_FORMAT && r != SCP_E_RANGE)) {
		fail("parse_cd failed without a reason", line);
	}

	r = scp_record_parse_t(line, &t, &why);
	if (r == 0) {
		if (t.mtime_usec < 0 || t.mtime_usec > 999999 ||
		    t.atime_usec < 0 || t.atime_usec > 999999) {
			fail("parse_t returned bad usec", line);
		}
		if (!t.valid && (t.mtime != 0 || t.atime != 0)) {
			fail("invalid times not zeroed", line);
		}
		if (t.valid) {
			if (scp_record_format_t(tbuf, sizeof(tbuf), t.mtime,
			    t.atime) != 0) {
				fail("format_t failed", line);
			}
			nl = strchr(tbuf, '\n');
			if (nl == NULL || nl[1] != '\0') {
				fail("formatted T is not one line", tbuf);
			}
			*nl = '\0';
			if (scp_record_parse_t(tbuf, &tb, &why) != 0 ||
			    !tb.valid || tb.mtime != t.mtime ||
			    tb.atime != t.atime || tb.mtime_usec != 0 ||
			    tb.atime_usec != 0) {
				fail("T round trip changed the times", line);
			}
		}
	} else if (why == NULL || r != SCP_E_FORMAT) {
		fail("parse_t failed without a reason", line);
	}
}

static uint64_t
get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++) {
		v = v << 8 | p[i];
	}
	return v;
}

/* Part 2: arbitrary field values through the formatters. */
static void
check_formatters(const uint8_t *data, size_t size)
{
	struct scp_record_cd back;
	struct scp_record_times tb;
	const char *why;
	char tbuf[128], *name, *out, *nl;
	mode_t mode;
	uint64_t sz;
	time_t mt, at;

	if (size < 26) {
		return;
	}
	mode = (mode_t)(data[0] << 8 | data[1]);
	sz = get_u64(data + 2);
	mt = (time_t)get_u64(data + 10);
	at = (time_t)get_u64(data + 18);
	name = malloc(size - 26 + 1);
	if (name == NULL) {
		abort();
	}
	memcpy(name, data + 26, size - 26);
	name[size - 26] = '\0';

	if ((out = format_parse('C', mode, sz, name, &back)) != NULL) {
		check_name('C', name, back.name, out);
		free(out);
	}
	if ((out = format_parse('D', mode, sz, name, &back)) != NULL) {
		check_name('D', name, back.name, out);
		free(out);
	}
	free(name);

	if (scp_record_format_t(tbuf, sizeof(tbuf), mt, at) != 0) {
		fail("format_t failed", "");
	}
	nl = strchr(tbuf, '\n');
	if (nl == NULL || nl[1] != '\0') {
		fail("formatted T is not one line", tbuf);
	}
	*nl = '\0';
	if (scp_record_parse_t(tbuf, &tb, &why) != 0 || !tb.valid ||
	    tb.mtime != (mt < 0 ? 0 : mt) || tb.atime != (at < 0 ? 0 : at)) {
		fail("formatted T does not parse back", tbuf);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line;
	size_t n;

	/* The sink reads one line: everything up to the first newline. */
	for (n = 0; n < size && data[n] != '\n'; n++) {
		;
	}
	if ((line = malloc(n + 1)) == NULL) {
		abort();
	}
	memcpy(line, data, n);
	line[n] = '\0';
	check_parsed_line(line);
	free(line);

	check_formatters(data, size);
	return 0;
}
