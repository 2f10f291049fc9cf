/* Unit tests for src/cli/operand.c (PROTOCOL.md section 1, "Operand
 * parsing"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cli/operand.h"
#include "util/err.h"

struct colon_case {
	const char *s;
	int offset;		/* of the separator, -1 = local */
};

static void
test_colon(void **state)
{
	static const struct colon_case cases[] = {
		{ "a:b", 1 },
		{ "host:", 4 },
		{ "u@h:p", 3 },
		{ "./a:b", -1 },
		{ "/x:y", -1 },
		{ ":f", -1 },
		{ "file", -1 },
		{ "", -1 },
		{ "[::1]:/p", 5 },
		{ "[::1]", -1 },
		{ "[::1]/x:y", -1 },
		{ "user@[fe80::1%eth0]:p", 19 },
		{ "a@b@h:p", 5 },
		{ "dir/f:x", -1 },
		{ "scp://h/x", 3 },
		{ "h:a:b", 1 },
	};
	const char *p;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		p = operand_colon(cases[i].s);
		if (cases[i].offset < 0) {
			if (p != NULL) {
				fail_msg("%s: expected local", cases[i].s);
			}
		} else {
			if (p == NULL || p - cases[i].s != cases[i].offset) {
				fail_msg("%s: expected separator at %d",
				    cases[i].s, cases[i].offset);
			}
		}
	}
	assert_true(operand_is_remote("scp://h"));
	assert_true(operand_is_remote("h:x"));
	assert_false(operand_is_remote("./h:x"));
}

struct parse_case {
	const char *arg;
	int ret;
	const char *user;	/* NULL = none */
	const char *host;	/* NULL = local */
	int port;
	const char *path;	/* NULL = not checked */
};

static void
test_parse(void **state)
{
	static const struct parse_case cases[] = {
		/* local */
		{ "file", 0, NULL, NULL, -1, "file" },
		{ "./a:b", 0, NULL, NULL, -1, "./a:b" },
		{ "/x:y", 0, NULL, NULL, -1, "/x:y" },
		{ ":f", 0, NULL, NULL, -1, ":f" },
		/* host:path */
		{ "h:p", 0, NULL, "h", -1, "p" },
		{ "h:", 0, NULL, "h", -1, "." },
		{ "u@h:/abs", 0, "u", "h", -1, "/abs" },
		{ "@h:p", 0, NULL, "h", -1, "p" },
		{ "a@b@h:p", 0, "a@b", "h", -1, "p" },
		{ "h:a:b", 0, NULL, "h", -1, "a:b" },
		{ "h:x@y", 0, NULL, "h", -1, "x@y" },
		{ "[::1]:/p", 0, NULL, "::1", -1, "/p" },
		{ "[::1]:", 0, NULL, "::1", -1, "." },
		{ "user@[fe80::1%eth0]:p", 0, "user", "fe80::1%eth0", -1,
		    "p" },
		{ "h:-t", 0, NULL, "h", -1, "-t" },
		{ "h:*.txt", 0, NULL, "h", -1, "*.txt" },
		/* user name checks (okname) */
		{ "u\"x@h:f", SCP_E_UNSAFE, "u\"x", "h", -1, "f" },
		{ "u x@h:f", SCP_E_UNSAFE, "u x", "h", -1, "f" },
		{ "u'x@h:f", SCP_E_UNSAFE, "u'x", "h", -1, "f" },
		{ "u`x@h:f", SCP_E_UNSAFE, "u`x", "h", -1, "f" },
		{ "u#x@h:f", SCP_E_UNSAFE, "u#x", "h", -1, "f" },
		{ "u\xc3\xa9@h:f", SCP_E_UNSAFE, "u\xc3\xa9", "h", -1, "f" },
		{ "u-x.y_z$@h:f", 0, "u-x.y_z$", "h", -1, "f" },
		/* URIs */
		{ "scp://h", 0, NULL, "h", -1, "." },
		{ "scp://h/", 0, NULL, "h", -1, "." },
		{ "scp://h/dir/f", 0, NULL, "h", -1, "dir/f" },
		{ "scp://h//abs/f", 0, NULL, "h", -1, "/abs/f" },
		{ "scp://u@h:2222/f", 0, "u", "h", 2222, "f" },
		{ "scp://u;fingerprint=x@h/f", 0, "u", "h", -1, "f" },
		{ "scp://u%41@h:77/d/f%20g", 0, "uA", "h", 77, "d/f g" },
		{ "scp://h/a+b", 0, NULL, "h", -1, "a b" },
		{ "scp://h:ssh/x", 0, NULL, "h", 22, "x" },
		{ "scp://my-host.example_1.org/x", 0, NULL,
		    "my-host.example_1.org", -1, "x" },
		{ "scp://[::1]/f", 0, NULL, "::1", -1, "f" },
		{ "scp://u@[fe80::1%eth0]:2200//t", 0, "u", "fe80::1%eth0",
		    2200, "/t" },
		{ "scp://u%22x@h/f", SCP_E_UNSAFE, "u\"x", "h", -1, "f" },
		/* invalid URIs */
		{ "scp://", SCP_E_FORMAT, NULL, NULL, -1, NULL },
		{ "scp://@h/f", SCP_E_FORMAT, NULL, NULL, -1, NULL },
		{ "scp://;x@h/f", SCP_E_FORMAT, NULL, NULL, -1, NULL },
		{ "scp://h:0/f", SCP_E_FORMAT, NULL, NULL, -1, NULL },
		{ "scp://h:/f", SCP_E_FORMAT, NULL, NULL, -1, NULL },
		{ "scp://h:99999/f", SCP_E_FORMAT, NULL, NULL, -1, NULL },
		{ "scp://h:nosuchsvc/f", SCP_E_FORMAT, NULL, NULL, -1, NULL },
		{ "scp://-h/f", SCP_E_FORMAT, NULL, NULL, -1, NULL },
		{ "scp://a..b/f", SCP_E_FORMAT, NULL, NULL, -1, NULL },
		{ "scp://h!x/f", SCP_E_FORMAT, NULL, NULL, -1, NULL },
		{ "scp://h/%zz", SCP_E_FORMAT, NULL, NULL, -1, NULL },
		{ "scp://h/%4", SCP_E_FORMAT, NULL, NULL, -1, NULL },
		{ "scp://h/a%00b", SCP_E_FORMAT, NULL, NULL, -1, NULL },
		{ "scp://u%g0@h/f", SCP_E_FORMAT, NULL, NULL, -1, NULL },
		{ "scp://[::1/f", SCP_E_FORMAT, NULL, NULL, -1, NULL },
		{ "scp://[]/f", SCP_E_FORMAT, NULL, NULL, -1, NULL },
		{ "scp://[::1]x/f", SCP_E_FORMAT, NULL, NULL, -1, NULL },
		{ "scp://[a;b]/f", SCP_E_FORMAT, NULL, NULL, -1, NULL },
	};
	struct operand op;
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct parse_case *c = &cases[i];

		r = operand_parse(c->arg, &op);
		if (r != c->ret) {
			fail_msg("%s: got %d want %d", c->arg, r, c->ret);
		}
		if (r == SCP_E_FORMAT) {
			operand_free(&op);
			continue;
		}
		if (c->user == NULL) {
			if (op.user != NULL) {
				fail_msg("%s: unexpected user %s", c->arg,
				    op.user);
			}
		} else {
			assert_non_null(op.user);
			assert_string_equal(op.user, c->user);
		}
		if (c->host == NULL) {
			assert_null(op.host);
		} else {
			assert_non_null(op.host);
			assert_string_equal(op.host, c->host);
		}
		if (op.port != c->port) {
			fail_msg("%s: port %d want %d", c->arg, op.port,
			    c->port);
		}
		if (c->path != NULL) {
			assert_non_null(op.path);
			assert_string_equal(op.path, c->path);
		}
		operand_free(&op);
	}
}

static void
test_okname(void **state)
{
	(void)state;
	assert_true(operand_okname(""));
	assert_true(operand_okname("root"));
	assert_true(operand_okname("a@b"));
	assert_true(operand_okname("DOMAIN\\user"));
	assert_false(operand_okname("a b"));
	assert_false(operand_okname("\x80"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_colon),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_okname),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
