/* Unit tests for src/cli/options.c (PROTOCOL.md section 1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cli/options.h"
#include "util/err.h"

#define MAXARGS 16

/* Parses a NULL-terminated list (argv[0] added). */
static int
parse(struct scp_options *o, const char *const *args, char **argv)
{
	int argc = 0;

	argv[argc++] = (char *)"scp";
	while (*args != NULL && argc < MAXARGS - 1) {
		argv[argc++] = (char *)*args++;
	}
	argv[argc] = NULL;
	options_init(o);
	return options_parse(o, argc, argv);
}

struct result_case {
	const char *args[8];
	int ret;
	const char *errmsg;	/* NULL: not checked */
};

static void
test_results(void **state)
{
	static const struct result_case cases[] = {
		{ { "a", "b", NULL }, 0, "" },
		{ { "-1", "a", "b", NULL }, SCP_E_FATAL,
		    "SSH protocol v.1 is no longer supported" },
		{ { "-2", "a", "b", NULL }, 0, NULL },
		{ { "-M", "x", "a", "b", NULL }, SCP_E_FORMAT, "" },
		{ { "-Z", "a", "b", NULL }, SCP_E_FORMAT,
		    "unknown option -- Z" },
		{ { "a", "-P", NULL }, 0, NULL },
		{ { "-P", NULL }, SCP_E_FORMAT,
		    "option requires an argument -- P" },
		{ { "-l", "0", "a", "b", NULL }, SCP_E_FORMAT, NULL },
		{ { "-l", "1", "a", "b", NULL }, 0, NULL },
		{ { "-l", "104857600", "a", "b", NULL }, 0, NULL },
		{ { "-l", "104857601", "a", "b", NULL }, SCP_E_FORMAT, NULL },
		{ { "-l", "12k", "a", "b", NULL }, SCP_E_FORMAT, NULL },
		{ { "-l", "-5", "a", "b", NULL }, SCP_E_FORMAT, NULL },
		{ { "-P", "0", "a", "b", NULL }, SCP_E_FATAL,
		    "bad port \"0\"" },
		{ { "-P", "65536", "a", "b", NULL }, SCP_E_FATAL,
		    "bad port \"65536\"" },
		{ { "-P", "nosuchservice", "a", "b", NULL }, SCP_E_FATAL,
		    "bad port \"nosuchservice\"" },
		{ { "-P", "65535", "a", "b", NULL }, 0, NULL },
		{ { "-X", "buffer=0", "a", "b", NULL }, SCP_E_FATAL,
		    "Invalid buffer size \"0\": Invalid argument" },
		{ { "-X", "buffer=300K", "a", "b", NULL }, SCP_E_FATAL,
		    "Invalid buffer size \"300K\": Invalid argument" },
		{ { "-X", "buffer=256K", "a", "b", NULL }, 0, NULL },
		{ { "-X", "buffer=1", "a", "b", NULL }, 0, NULL },
		{ { "-X", "buffer=x", "a", "b", NULL }, SCP_E_FATAL, NULL },
		{ { "-X", "nrequests=0", "a", "b", NULL }, SCP_E_FATAL,
		    "Invalid number of requests \"0\": too small" },
		{ { "-X", "nrequests=262145", "a", "b", NULL }, SCP_E_FATAL,
		    "Invalid number of requests \"262145\": too large" },
		{ { "-X", "nrequests=1k", "a", "b", NULL }, SCP_E_FATAL,
		    "Invalid number of requests \"1k\": invalid" },
		{ { "-X", "nrequests=262144", "a", "b", NULL }, 0, NULL },
		{ { "-X", "foo=1", "a", "b", NULL }, SCP_E_FATAL,
		    "Invalid -X option" },
		{ { "--timeout=x", "a", "b", NULL }, SCP_E_FATAL, NULL },
		{ { "--nosuch", "a", "b", NULL }, SCP_E_FORMAT, NULL },
	};
	char *argv[MAXARGS];
	struct scp_options o;
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = parse(&o, cases[i].args, argv);
		if (r != cases[i].ret) {
			fail_msg("case %zu (%s): got %d want %d", i,
			    cases[i].args[0], r, cases[i].ret);
		}
		if (cases[i].errmsg != NULL) {
			assert_string_equal(o.errmsg, cases[i].errmsg);
		}
		options_free(&o);
	}
}

static void
test_defaults_and_values(void **state)
{
	static const char *const args[] = { "-3", "-O", "-rpqTd", "-v",
	    "-v", "-P", "2202", "-l", "800", "-S", "/bin/myssh", "-D",
	    "/usr/lib/sftp-server", "-X", "buffer=64K", "-X", "nrequests=7",
	    "--inplace", "--resume", "--timeout=30", "src", "dst", NULL };
	static const char *const none[] = { "a", "b", NULL };
	char *argv[32];
	struct scp_options o;
	int argc = 0;
	size_t i;

	(void)state;
	assert_int_equal(parse(&o, none, argv), 0);
	assert_int_equal(o.mode, SCP_MODE_SFTP);
	assert_int_equal(o.through_local, 1);
	assert_int_equal(o.port, -1);
	assert_string_equal(o.ssh_program, "/usr/bin/ssh");
	assert_null(o.sftp_direct);
	assert_int_equal(o.noperands, 2);
	assert_int_equal(o.ssh_args.n, 0);
	options_free(&o);

	argv[argc++] = (char *)"scp";
	for (i = 0; args[i] != NULL; i++) {
		argv[argc++] = (char *)args[i];
	}
	argv[argc] = NULL;
	options_init(&o);
	assert_int_equal(options_parse(&o, argc, argv), 0);
	assert_int_equal(o.mode, SCP_MODE_LEGACY);
	assert_int_equal(o.recursive, 1);
	assert_int_equal(o.preserve, 1);
	assert_int_equal(o.quiet, 1);
	assert_int_equal(o.no_name_check, 1);
	assert_int_equal(o.target_dir, 1);
	assert_int_equal(o.verbose, 2);
	assert_int_equal(o.port, 2202);
	assert_int_equal(o.bwlimit_kbits, 800);
	assert_string_equal(o.ssh_program, "/bin/myssh");
	assert_string_equal(o.sftp_direct, "/usr/lib/sftp-server");
	assert_int_equal(o.sftp_buffer_len, 65536);
	assert_int_equal(o.sftp_nrequests, 7);
	assert_int_equal(o.inplace, 1);
	assert_int_equal(o.resume, 1);
	assert_int_equal(o.timeout, 30);
	assert_int_equal(o.noperands, 2);
	assert_string_equal(o.operands[0], "src");
	assert_string_equal(o.operands[1], "dst");
	/* -q then -v -v, in command-line order. */
	assert_int_equal(o.ssh_args.n, 3);
	assert_string_equal(o.ssh_args.v[0], "-q");
	assert_string_equal(o.ssh_args.v[1], "-v");
	assert_string_equal(o.ssh_args.v[2], "-v");
	options_free(&o);
}

static void
test_mode_last_wins(void **state)
{
	static const char *const a1[] = { "-O", "-s", "a", "b", NULL };
	static const char *const a2[] = { "-s", "-O", "a", "b", NULL };
	static const char *const a3[] = { "-3", "-R", "a", "b", NULL };
	static const char *const a4[] = { "-R", "-3", "a", "b", NULL };
	static const char *const a5[] = { "-t", "x", NULL };
	static const char *const a6[] = { "-f", "x", "y", NULL };
	char *argv[MAXARGS];
	struct scp_options o;

	(void)state;
	assert_int_equal(parse(&o, a1, argv), 0);
	assert_int_equal(o.mode, SCP_MODE_SFTP);
	options_free(&o);
	assert_int_equal(parse(&o, a2, argv), 0);
	assert_int_equal(o.mode, SCP_MODE_LEGACY);
	options_free(&o);
	assert_int_equal(parse(&o, a3, argv), 0);
	assert_int_equal(o.through_local, 0);
	options_free(&o);
	assert_int_equal(parse(&o, a4, argv), 0);
	assert_int_equal(o.through_local, 1);
	options_free(&o);
	assert_int_equal(parse(&o, a5, argv), 0);
	assert_int_equal(o.server_sink, 1);
	assert_int_equal(o.noperands, 1);
	options_free(&o);
	assert_int_equal(parse(&o, a6, argv), 0);
	assert_int_equal(o.server_source, 1);
	assert_int_equal(o.noperands, 2);
	options_free(&o);
}

/* ssh passthrough options, in order, two-argument ones as two. */
static void
test_ssh_args(void **state)
{
	static const char *const args[] = { "-4", "-6", "-A", "-C", "-B",
	    "-c", "aes128-ctr", "-i", "id", "-F", "cfg", "-J", "jump",
	    "-oFoo=bar", "-o", "Baz=1", "-q", "-v", "a", "b", NULL };
	static const char *const want[] = { "-4", "-6", "-A", "-C",
	    "-oBatchmode=yes", "-c", "aes128-ctr", "-i", "id", "-F", "cfg",
	    "-J", "jump", "-o", "Foo=bar", "-o", "Baz=1", "-q", "-v", NULL };
	char *argv[32];
	struct scp_options o;
	int argc = 0;
	size_t i;

	(void)state;
	argv[argc++] = (char *)"scp";
	for (i = 0; args[i] != NULL; i++) {
		argv[argc++] = (char *)args[i];
	}
	argv[argc] = NULL;
	options_init(&o);
	assert_int_equal(options_parse(&o, argc, argv), 0);
	for (i = 0; want[i] != NULL; i++) {
		assert_true(i < o.ssh_args.n);
		assert_string_equal(o.ssh_args.v[i], want[i]);
	}
	assert_int_equal(o.ssh_args.n, i);
	assert_null(o.ssh_args.v[i]);
	options_free(&o);
}

/* PROTOCOL.md section 1: option parsing stops at the first operand. */
static void
test_no_permutation(void **state)
{
	static const char *const a1[] = { "f", "host:x", "-P", "2202",
	    NULL };
	static const char *const a2[] = { "f", "-oProxyCommand=evil:x",
	    NULL };
	static const char *const a3[] = { "-r", "--", "-f", "h:x", NULL };
	char *argv[MAXARGS];
	struct scp_options o;

	(void)state;
	assert_int_equal(parse(&o, a1, argv), 0);
	assert_int_equal(o.port, -1);
	assert_int_equal(o.noperands, 4);
	assert_string_equal(o.operands[2], "-P");
	assert_string_equal(o.operands[3], "2202");
	options_free(&o);

	assert_int_equal(parse(&o, a2, argv), 0);
	assert_int_equal(o.ssh_args.n, 0);
	assert_int_equal(o.noperands, 2);
	assert_string_equal(o.operands[1], "-oProxyCommand=evil:x");
	options_free(&o);

	assert_int_equal(parse(&o, a3, argv), 0);
	assert_int_equal(o.server_source, 0);
	assert_int_equal(o.recursive, 1);
	assert_int_equal(o.noperands, 2);
	assert_string_equal(o.operands[0], "-f");
	options_free(&o);
}

static void
test_usage_text(void **state)
{
	(void)state;
	assert_string_equal(options_usage_text,
	    "usage: scp [-346ABCOpqRrsTv] [-c cipher] [-D sftp_server_path]"
	    " [-F ssh_config]\n"
	    "           [-i identity_file] [-J destination] [-l limit]"
	    " [-o ssh_option]\n"
	    "           [-P port] [-S program] [-X sftp_option]"
	    " source ... target\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_results),
		cmocka_unit_test(test_defaults_and_values),
		cmocka_unit_test(test_mode_last_wins),
		cmocka_unit_test(test_ssh_args),
		cmocka_unit_test(test_no_permutation),
		cmocka_unit_test(test_usage_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
