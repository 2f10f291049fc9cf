/*
 * libFuzzer target: the --json string escaping (src/util/json.h).
 *
 * Any bytes go in.  Invariants checked:
 *  - the output is one JSON string literal (RFC 8259 section 7) that
 *    json_unescape() accepts whole: valid UTF-8, no raw control
 *    character, every escape well-formed;
 *  - it decodes back to exactly the input (lossless, surrogateescape);
 *  - the decoder, fed the input itself, never reads past its end and
 *    never claims more than it was given.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fail(const char *what)
{
	fprintf(stderr, "fuzz_json: %s\n", what);
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jbuf b, d;
	size_t used = 0, i;
	char *copy;

	jbuf_init(&b);
	jbuf_init(&d);
	json_escape(&b, (const char *)data, size);
	for (i = 0; i < b.len; i++) {
		if ((unsigned char)b.p[i] < 0x20) {
			fail("raw control character in the output");
		}
	}
	if (json_unescape(b.p, b.len, &d, &used) != 0 || used != b.len) {
		fail("output is not one JSON string literal");
	}
	if (d.len != size || (size > 0 && memcmp(d.p, data, size) != 0)) {
		fail("does not decode back to the input");
	}
	jbuf_free(&d);

	/* The decoder on raw input: an exact-size copy for ASan. */
	copy = malloc(size > 0 ? size : 1);
	if (copy != NULL) {
		memcpy(copy, data, size);
		jbuf_init(&d);
		if (json_unescape(copy, size, &d, &used) == 0 && used > size) {
			fail("decoder claims more than it was given");
		}
		jbuf_free(&d);
		free(copy);
	}
	jbuf_free(&b);
	return 0;
}
