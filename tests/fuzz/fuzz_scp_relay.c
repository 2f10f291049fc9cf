/*
 * libFuzzer target: the -3 relay's watch (src/proto/scp/relay.h), which
 * reads both directions of a legacy stream as it passes.
 *
 * The input is a sequence of chunks: one header byte (bit 7: the chunk
 * came from the sink, bits 0-6: its length) and that many bytes.
 * Invariants checked:
 *  - every message handed out is a NUL-terminated string shorter than
 *    SCP_RELAY_LINE with no newline in it;
 *  - there are never more messages than bytes fed (each needs at least
 *    its newline);
 *  - feeding the same bytes again in one piece per chunk or one byte at
 *    a time gives the same messages: the watch keeps no state in how
 *    the bytes were cut.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/scp/relay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	unsigned long n;
	unsigned long hash;
};

static void
on_msg(void *ctx, const char *text)
{
	struct seen *s = ctx;
	size_t len = strlen(text);

	if (len >= SCP_RELAY_LINE || memchr(text, '\n', len) != NULL) {
		fprintf(stderr, "fuzz_scp_relay: bad message\n");
		abort();
	}
	s->n++;
	while (len-- > 0) {
		s->hash = s->hash * 31 + (unsigned char)text[len];
	}
}

static void
run(const uint8_t *data, size_t size, int bytewise, struct seen *s,
    unsigned long *errs)
{
	struct scp_relay_watch w;
	size_t i = 0, len, k;
	int sink;

	memset(s, 0, sizeof(*s));
	scp_relay_watch_init(&w, on_msg, s);
	while (i < size) {
		sink = (data[i] & 0x80) != 0;
		len = data[i] & 0x7f;
		i++;
		if (len > size - i) {
			len = size - i;
		}
		if (bytewise) {
			for (k = 0; k < len; k++) {
				scp_relay_watch_feed(&w, sink, data + i + k, 1);
			}
		} else {
			scp_relay_watch_feed(&w, sink, data + i, len);
		}
		i += len;
	}
	*errs = w.errs;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen a, b;
	unsigned long ea, eb;

	run(data, size, 0, &a, &ea);
	run(data, size, 1, &b, &eb);
	if (a.n != ea || a.n > size) {
		fprintf(stderr, "fuzz_scp_relay: %lu messages, %lu errors, "
		    "%zu bytes\n", a.n, ea, size);
		abort();
	}
	if (a.n != b.n || a.hash != b.hash || ea != eb) {
		fprintf(stderr, "fuzz_scp_relay: depends on the cut\n");
		abort();
	}
	return 0;
}
