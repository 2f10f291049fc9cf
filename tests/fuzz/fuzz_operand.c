/*
 * libFuzzer target: operand parsing (PROTOCOL.md section 1, "Operand
 * parsing"; src/cli/operand.h).  The input, cut at its first NUL, is one
 * command-line operand.  Invariants checked:
 *  - operand_parse always leaves the struct freeable (checked by ASan's
 *    leak detector after operand_free);
 *  - on success path is non-NULL; a local operand (no separator, not a
 *    URI) keeps host NULL and path equal to the argument;
 *  - host is set exactly when operand_is_remote() says so;
 *  - a returned user always passes operand_okname(), else SCP_E_UNSAFE;
 *  - a port is only set for URIs and is 1..65535;
 *  - operand_colon() points into the argument at a ':'.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/operand.h"
#include "util/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fail(const char *what, const char *arg)
{
	fprintf(stderr, "fuzz_operand: %s (operand \"%s\")\n", what, arg);
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct operand op;
	const char *colon;
	char *arg;
	int r, remote, uri;

	if ((arg = malloc(size + 1)) == NULL) {
		abort();
	}
	memcpy(arg, data, size);
	arg[size] = '\0';

	colon = operand_colon(arg);
	if (colon != NULL &&
	    (colon < arg || colon >= arg + strlen(arg) || *colon != ':')) {
		fail("operand_colon points outside or not at ':'", arg);
	}
	uri = operand_is_uri(arg);
	remote = operand_is_remote(arg);
	if (remote != (uri || colon != NULL)) {
		fail("operand_is_remote inconsistent", arg);
	}
	(void)operand_okname(arg);

	memset(&op, 0xa5, sizeof(op));
	r = operand_parse(arg, &op);
	if (r == 0) {
		if (op.path == NULL) {
			fail("path NULL after success", arg);
		}
		if ((op.host != NULL) != remote) {
			fail("host set but operand not remote (or not)", arg);
		}
		if (op.is_uri != uri) {
			fail("is_uri disagrees with operand_is_uri", arg);
		}
		if (!remote && (op.user != NULL ||
		    strcmp(op.path, arg) != 0)) {
			fail("local operand altered", arg);
		}
		if (op.user != NULL && !operand_okname(op.user)) {
			fail("unsafe user name accepted", arg);
		}
		if (op.port != -1 && (!uri || op.port < 1 ||
		    op.port > 65535)) {
			fail("bad port", arg);
		}
		if (remote && op.path[0] == '\0') {
			fail("empty path (should be \".\")", arg);
		}
	} else if (r == SCP_E_UNSAFE) {
		if (op.user == NULL || operand_okname(op.user)) {
			fail("SCP_E_UNSAFE without an unsafe user", arg);
		}
	} else if (r != SCP_E_FORMAT || !uri) {
		fail("unexpected error code", arg);
	}
	operand_free(&op);
	free(arg);
	return 0;
}
