/* Unit tests for src/cli/options.c (PROTOCOL.md section 1). */
#include <setjmp.h>
#include <stdio.h>
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

struct help_case {
	const char *args[8];
	int ret;
	int help;
	const char *errmsg;	/* NULL: not checked */
};

/*
 * --help among the options wins over everything else (options.h); as
 * an option's argument, after "--" or after an operand it is not one.
 */
static void
test_help_wins(void **state)
{
	static const struct help_case cases[] = {
		{ { "--help", NULL }, 0, 1, "" },
		{ { "-r", "-P", "22", "--help", "a", "b", NULL }, 0, 1, "" },
		{ { "-Z", "--help", NULL }, 0, 1, "" },
		{ { "--help", "-Z", NULL }, 0, 1, "" },
		{ { "-P", "0", "--help", NULL }, 0, 1, "" },
		{ { "-X", "foo=1", "--help", NULL }, 0, 1, "" },
		{ { "-1", "--help", NULL }, 0, 1, "" },
		{ { "--he", NULL }, 0, 1, "" },
		{ { "-o", "--help", "a", "b", NULL }, 0, 0, "" },
		{ { "--", "--help", NULL }, 0, 0, "" },
		{ { "a", "--help", NULL }, 0, 0, "" },
		{ { "--timeout", "--help", "a", "b", NULL }, SCP_E_FATAL, 0,
		    "Invalid timeout \"--help\"" },
		{ { "--help=x", NULL }, SCP_E_FORMAT, 0,
		    "unknown option -- help=x" },
		{ { "-h", NULL }, SCP_E_FORMAT, 0, "unknown option -- h" },
		{ { "a", "b", NULL }, 0, 0, "" },
	};
	char *argv[MAXARGS];
	struct scp_options o;
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = parse(&o, cases[i].args, argv);
		if (r != cases[i].ret || o.help != cases[i].help) {
			fail_msg("case %zu (%s): got %d/%d want %d/%d", i,
			    cases[i].args[0], r, o.help, cases[i].ret,
			    cases[i].help);
		}
		if (cases[i].errmsg != NULL) {
			assert_string_equal(o.errmsg, cases[i].errmsg);
		}
		options_free(&o);
	}

	/* What --help did not take away. */
	{
		static const char *const a1[] = { "-o", "--help", "a", "b",
		    NULL };
		static const char *const a2[] = { "--", "--help", NULL };

		assert_int_equal(parse(&o, a1, argv), 0);
		assert_int_equal(o.ssh_args.n, 2);
		assert_string_equal(o.ssh_args.v[1], "--help");
		assert_int_equal(o.noperands, 2);
		options_free(&o);
		assert_int_equal(parse(&o, a2, argv), 0);
		assert_int_equal(o.noperands, 1);
		assert_string_equal(o.operands[0], "--help");
		options_free(&o);
	}
}

/*
 * The parser accepts exactly OpenSSH 9.2's letters (its optstring,
 * below), each with or without an argument as there; every other
 * letter is unknown.  The optstring is built from the same table as
 * the help, so this also pins the table.
 */
static void
test_letters_are_openssh(void **state)
{
	static const char openssh[] =
	    "12346ABCTdfOpqRrstvD:F:J:M:P:S:c:i:l:o:X:";
	static const char alnum[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	char *argv[MAXARGS], opt[3], want[64];
	const char *args[2], *p;
	struct scp_options o;
	size_t i;

	(void)state;
	for (i = 0; alnum[i] != '\0'; i++) {
		opt[0] = '-';
		opt[1] = alnum[i];
		opt[2] = '\0';
		args[0] = opt;
		args[1] = NULL;
		parse(&o, args, argv);
		p = strchr(openssh, alnum[i]);
		if (p == NULL) {
			snprintf(want, sizeof(want), "unknown option -- %c",
			    alnum[i]);
			assert_string_equal(o.errmsg, want);
		} else if (p[1] == ':') {
			snprintf(want, sizeof(want),
			    "option requires an argument -- %c", alnum[i]);
			assert_string_equal(o.errmsg, want);
		} else if (alnum[i] != '1') {
			assert_string_equal(o.errmsg, "");
		}
		options_free(&o);
	}
}

/* Every --help line but the usage lines and headings, in order. */
static void
test_help_text(void **state)
{
	static const char *const want[] = { "-3", "-4", "-6", "-A", "-B",
	    "-C", "-c cipher", "-D sftp_server_path", "-F ssh_config",
	    "-i identity_file", "-J destination", "-l limit", "-O",
	    "-o ssh_option", "-P port", "-p", "-q", "-R", "-r", "-S program",
	    "-s", "-T", "-v", "-X sftp_option", "--fsync", "--help",
	    "--inplace", "--json[=fd]", "--progress=mode", "--resume",
	    "--timeout=seconds", "-d", "-f", "-t",
	    "-1", "-2", NULL };
	char *text = NULL, *line, *save = NULL, *nl;
	size_t len = 0, n = 0, usage_len;
	FILE *fp;

	(void)state;
	fp = open_memstream(&text, &len);
	assert_non_null(fp);
	assert_int_equal(options_help(fp), 0);
	assert_int_equal(fclose(fp), 0);

	usage_len = strlen(options_usage_text);
	assert_true(len > usage_len);
	assert_memory_equal(text, options_usage_text, usage_len);
	for (line = strtok_r(text + usage_len, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		assert_true(strlen(line) < 80);
		if (line[0] != ' ') {
			continue;	/* a heading */
		}
		/* "  OPTION  description": the option, then two spaces. */
		assert_true(strncmp(line, "  -", 3) == 0);
		nl = strstr(line + 2, "  ");
		assert_non_null(nl);
		*nl = '\0';
		assert_non_null(want[n]);
		assert_string_equal(line + 2, want[n]);
		n++;
	}
	assert_null(want[n]);
	free(text);

	/* A failed write is reported (main exits 1). */
	fp = fopen("/dev/full", "w");
	if (fp != NULL) {
		assert_int_equal(options_help(fp), SCP_E_SYS);
		fclose(fp);
	}
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
		cmocka_unit_test(test_help_wins),
		cmocka_unit_test(test_letters_are_openssh),
		cmocka_unit_test(test_help_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
