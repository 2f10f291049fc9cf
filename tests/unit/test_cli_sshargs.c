/* Unit tests for src/cli/sshargs.c: whole argv vectors against the
 * examples observed with OpenSSH 9.2 (PROTOCOL.md section 3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cli/operand.h"
#include "cli/options.h"
#include "cli/sshargs.h"
#include "util/strvec.h"

#define BASE "/usr/bin/ssh", "-x", "-oPermitLocalCommand=no", \
	"-oClearAllForwardings=yes", "-oRemoteCommand=none", \
	"-oRequestTTY=no"

static void
parse_opts(struct scp_options *o, const char *const *args)
{
	char *argv[32];
	int argc = 0;

	argv[argc++] = (char *)"scp";
	while (*args != NULL) {
		argv[argc++] = (char *)*args++;
	}
	argv[argc] = NULL;
	options_init(o);
	assert_int_equal(options_parse(o, argc, argv), 0);
}

static void
assert_argv(const struct strvec *sv, const char *const *want)
{
	size_t i;

	for (i = 0; want[i] != NULL; i++) {
		if (i >= sv->n) {
			fail_msg("argv too short: missing %s", want[i]);
		}
		if (strcmp(sv->v[i], want[i]) != 0) {
			fail_msg("argv[%zu] = \"%s\", want \"%s\"", i, sv->v[i],
			    want[i]);
		}
	}
	if (sv->n != i) {
		fail_msg("argv too long: extra \"%s\"", sv->v[i]);
	}
	assert_null(sv->v[i]);
}

/* sftp: ssh ... -oForwardAgent=no -l u -s -- h sftp */
static void
test_sftp(void **state)
{
	static const char *const args[] = { "u@h:/t", "x", NULL };
	static const char *const want[] = { BASE, "-oForwardAgent=no",
	    "-l", "u", "-s", "--", "h", "sftp", NULL };
	struct scp_options o;
	struct strvec sv;

	(void)state;
	parse_opts(&o, args);
	strvec_init(&sv);
	sshargs_connection(&sv, &o, SSHARGS_SFTP, "h", "u", -1, "sftp");
	assert_argv(&sv, want);
	strvec_clear(&sv);
	options_free(&o);
}

/* Builds kind's argv for `args` and compares it with `want`. */
static void
check_conn(const char *const *args, enum sshargs_kind kind,
    const char *const *want)
{
	struct scp_options o;
	struct strvec sv;

	parse_opts(&o, args);
	strvec_init(&sv);
	sshargs_connection(&sv, &o, kind, "h", NULL, -1,
	    kind == SSHARGS_SFTP ? "sftp" : "scp -t /t");
	assert_argv(&sv, want);
	strvec_clear(&sv);
	options_free(&o);
}

/*
 * -q and the fallback's tap (run.h above sftp_tap_open): an SFTP ssh
 * that is watched gets -oLogLevel=FATAL after the user's options
 * instead of -q (their own LogLevel comes first and wins); with -s, in
 * legacy mode, or with a -v after the -q, -q stays where it was.  A
 * value "-q" (here -i's) is not the option.
 */
static void
test_sftp_quiet(void **state)
{
	static const char *const a1[] = { "-q", "-o", "LogLevel=ERROR",
	    "a", "h:/t", NULL };
	static const char *const w1[] = { BASE, "-o", "LogLevel=ERROR",
	    "-oLogLevel=FATAL", "-oForwardAgent=no", "-s", "--", "h", "sftp",
	    NULL };
	static const char *const a2[] = { "-s", "-q", "a", "h:/t", NULL };
	static const char *const w2[] = { BASE, "-q", "-oForwardAgent=no",
	    "-s", "--", "h", "sftp", NULL };
	static const char *const w3[] = { BASE, "-q", "-oForwardAgent=no",
	    "--", "h", "scp -t /t", NULL };
	static const char *const a4[] = { "-v", "-q", "a", "h:/t", NULL };
	static const char *const w4[] = { BASE, "-v", "-oLogLevel=FATAL",
	    "-oForwardAgent=no", "-s", "--", "h", "sftp", NULL };
	static const char *const a5[] = { "-q", "-v", "a", "h:/t", NULL };
	static const char *const w5[] = { BASE, "-q", "-v",
	    "-oForwardAgent=no", "-s", "--", "h", "sftp", NULL };
	static const char *const a6[] = { "-i", "-q", "a", "h:/t", NULL };
	static const char *const w6[] = { BASE, "-i", "-q",
	    "-oForwardAgent=no", "-s", "--", "h", "sftp", NULL };
	struct scp_options o;

	(void)state;
	check_conn(a1, SSHARGS_SFTP, w1);
	check_conn(a2, SSHARGS_SFTP, w2);
	check_conn(a2 + 1, SSHARGS_LEGACY, w3);
	check_conn(a4, SSHARGS_SFTP, w4);
	check_conn(a5, SSHARGS_SFTP, w5);
	check_conn(a6, SSHARGS_SFTP, w6);
	parse_opts(&o, a1);
	assert_int_equal(sshargs_tapped(&o), 1);
	assert_int_equal(sshargs_tap_quiet(&o), 1);
	options_free(&o);
	parse_opts(&o, a2);
	assert_int_equal(sshargs_tapped(&o), 0);
	assert_int_equal(sshargs_tap_quiet(&o), 0);
	options_free(&o);
	parse_opts(&o, a6);
	assert_int_equal(sshargs_tap_quiet(&o), 0);
	options_free(&o);
}

/* legacy: ... -oForwardAgent=no -l u -- h 'scp -t /t/x' */
static void
test_legacy(void **state)
{
	static const char *const args[] = { "-O", "a", "u@h:/t/x", NULL };
	static const char *const want[] = { BASE, "-oForwardAgent=no",
	    "-l", "u", "--", "h", "scp -t /t/x", NULL };
	struct scp_options o;
	struct strvec sv;
	char *cmd;

	(void)state;
	parse_opts(&o, args);
	cmd = sshargs_scp_command(&o, 't', "/t/x");
	assert_string_equal(cmd, "scp -t /t/x");
	strvec_init(&sv);
	sshargs_connection(&sv, &o, SSHARGS_LEGACY, "h", "u", -1, cmd);
	assert_argv(&sv, want);
	strvec_clear(&sv);
	free(cmd);
	options_free(&o);
}

/* -O -rpv two sources to h:-t: ... -v -oForwardAgent=no -- h
 * 'scp -v -r -p -d -t -- -t' */
static void
test_legacy_flags(void **state)
{
	static const char *const args[] = { "-O", "-rpv", "a", "b", "h:-t",
	    NULL };
	static const char *const want[] = { BASE, "-v", "-oForwardAgent=no",
	    "--", "h", "scp -v -r -p -d -t -- -t", NULL };
	struct scp_options o;
	struct strvec sv;
	char *cmd;

	(void)state;
	parse_opts(&o, args);
	o.target_dir = 1;	/* main sets it for >2 operands */
	cmd = sshargs_scp_command(&o, 't', "-t");
	strvec_init(&sv);
	sshargs_connection(&sv, &o, SSHARGS_LEGACY, "h", NULL, -1, cmd);
	assert_argv(&sv, want);
	strvec_clear(&sv);
	free(cmd);

	cmd = sshargs_scp_command(&o, 'f', "/a b/*.txt");
	assert_string_equal(cmd, "scp -v -r -p -d -f /a b/*.txt");
	free(cmd);
	options_free(&o);
}

/* -3 -O second host, with -P and -v as observed:
 * ... -v -oForwardAgent=no -p 99 -l u2 -oBatchMode=yes -- h2
 * 'scp -v -t /b' */
static void
test_legacy_second(void **state)
{
	static const char *const args[] = { "-O", "-v", "-P", "99",
	    "u1@h1:/a", "u2@h2:/b", NULL };
	static const char *const want[] = { BASE, "-v", "-oForwardAgent=no",
	    "-p", "99", "-l", "u2", "-oBatchMode=yes", "--", "h2",
	    "scp -v -t /b", NULL };
	struct scp_options o;
	struct strvec sv;
	char *desc;

	(void)state;
	parse_opts(&o, args);
	strvec_init(&sv);
	sshargs_connection(&sv, &o, SSHARGS_LEGACY_2ND, "h2", "u2", -1,
	    "scp -v -t /b");
	assert_argv(&sv, want);
	strvec_clear(&sv);

	desc = sshargs_describe(&o, SSHARGS_LEGACY_2ND, "h2", "u2",
	    "scp -v -t /b");
	assert_string_equal(desc, "Executing: 2nd program /usr/bin/ssh "
	    "host h2, user u2, command scp -v -t /b");
	free(desc);
	desc = sshargs_describe(&o, SSHARGS_SFTP, "h", NULL, "sftp");
	assert_string_equal(desc, "Executing: program /usr/bin/ssh "
	    "host h, user (unspecified), command sftp");
	free(desc);
	options_free(&o);
}

/* -3 -O second host exactly as observed: ... -oForwardAgent=no
 * -oBatchMode=yes -- h2 'scp -t /b' */
static void
test_legacy_second_plain(void **state)
{
	static const char *const args[] = { "-O", "h1:/a", "h2:/b", NULL };
	static const char *const want[] = { BASE, "-oForwardAgent=no",
	    "-oBatchMode=yes", "--", "h2", "scp -t /b", NULL };
	struct scp_options o;
	struct strvec sv;
	char *cmd;

	(void)state;
	parse_opts(&o, args);
	cmd = sshargs_scp_command(&o, 't', "/b");
	strvec_init(&sv);
	sshargs_connection(&sv, &o, SSHARGS_LEGACY_2ND, "h2", NULL, -1, cmd);
	assert_argv(&sv, want);
	strvec_clear(&sv);
	free(cmd);
	options_free(&o);
}

/* A URI port overrides -P; user options keep their order before
 * -oForwardAgent=no so an earlier -A wins in ssh. */
static void
test_port_and_order(void **state)
{
	static const char *const args[] = { "-P", "2202", "-A", "-S",
	    "myssh", "-oForwardAgent=yes", "-i", "id", "a", "h:", NULL };
	static const char *const want[] = { "myssh", "-x",
	    "-oPermitLocalCommand=no", "-oClearAllForwardings=yes",
	    "-oRemoteCommand=none", "-oRequestTTY=no", "-A", "-o",
	    "ForwardAgent=yes", "-i", "id", "-oForwardAgent=no", "-p",
	    "77", "-s", "--", "h", "sftp", NULL };
	struct scp_options o;
	struct strvec sv;

	(void)state;
	parse_opts(&o, args);
	strvec_init(&sv);
	sshargs_connection(&sv, &o, SSHARGS_SFTP, "h", NULL, 77, "sftp");
	assert_argv(&sv, want);
	strvec_clear(&sv);
	options_free(&o);
}

/* -D: "path [-p PORT] -- host sftp", no ssh options, no user. */
static void
test_direct(void **state)
{
	static const char *const args[] = { "-v", "-D",
	    "/usr/lib/openssh/sftp-server", "a", "u@h:x", NULL };
	static const char *const want[] = { "/usr/lib/openssh/sftp-server",
	    "--", "h", "sftp", NULL };
	struct scp_options o;
	struct strvec sv;
	char *desc;

	(void)state;
	parse_opts(&o, args);
	strvec_init(&sv);
	sshargs_connection(&sv, &o, SSHARGS_SFTP, "h", "u", -1, "sftp");
	assert_argv(&sv, want);
	strvec_clear(&sv);
	desc = sshargs_describe(&o, SSHARGS_SFTP, "h", "u", "sftp");
	assert_string_equal(desc, "Executing: program "
	    "/usr/lib/openssh/sftp-server host h, user (unspecified), "
	    "command sftp");
	free(desc);
	options_free(&o);
}

/* -D with a port: OpenSSH's do_sftp_connect() passes port -1, which
 * do_cmd() turns into -P's port: an operand's port (scp://h:4242/) never
 * reaches the -D program, whose -p is sftp-server's request allow-list. */
static void
test_direct_port(void **state)
{
	static const char *const args[] = { "-D", "/bin/srv", "a",
	    "scp://u@h:4242//x", NULL };
	static const char *const args_p[] = { "-P", "2222", "-D", "/bin/srv",
	    "a", "scp://u@h:4242//x", NULL };
	static const char *const want[] = { "/bin/srv", "--", "h", "sftp",
	    NULL };
	static const char *const want_p[] = { "/bin/srv", "-p", "2222", "--",
	    "h", "sftp", NULL };
	struct scp_options o;
	struct strvec sv;

	(void)state;
	parse_opts(&o, args);
	strvec_init(&sv);
	sshargs_connection(&sv, &o, SSHARGS_SFTP, "h", "u", 4242, "sftp");
	assert_argv(&sv, want);
	strvec_clear(&sv);
	options_free(&o);
	parse_opts(&o, args_p);
	strvec_init(&sv);
	sshargs_connection(&sv, &o, SSHARGS_SFTP, "h", "u", 4242, "sftp");
	assert_argv(&sv, want_p);
	strvec_clear(&sv);
	options_free(&o);
}

/* -R: ssh -x -oClearAllForwardings=yes -n -C -i id -o Foo=bar -l u1 --
 * h1 scp /a u2@h2:/b */
static void
test_remote_remote(void **state)
{
	static const char *const args[] = { "-R", "-C", "-i", "id", "-o",
	    "Foo=bar", "u1@h1:/a", "u2@h2:/b", NULL };
	static const char *const want[] = { "/usr/bin/ssh", "-x",
	    "-oClearAllForwardings=yes", "-n", "-C", "-i", "id", "-o",
	    "Foo=bar", "-l", "u1", "--", "h1", "scp", "/a", "u2@h2:/b",
	    NULL };
	static const char *const args2[] = { "-R", "-rpv", "-P", "2200",
	    "h1:-x", "[::1]:/b", NULL };
	static const char *const want2[] = { "/usr/bin/ssh", "-x",
	    "-oClearAllForwardings=yes", "-n", "-v", "-p", "2200", "--",
	    "h1", "scp -v -r -p", "--", "-x", "[::1]:/b", NULL };
	struct operand src, dst;
	struct scp_options o;
	struct strvec sv;

	(void)state;
	parse_opts(&o, args);
	assert_int_equal(operand_parse("u1@h1:/a", &src), 0);
	assert_int_equal(operand_parse("u2@h2:/b", &dst), 0);
	strvec_init(&sv);
	sshargs_remote_remote(&sv, &o, &src, &dst);
	assert_argv(&sv, want);
	strvec_clear(&sv);
	operand_free(&src);
	operand_free(&dst);
	options_free(&o);

	parse_opts(&o, args2);
	assert_int_equal(operand_parse("h1:-x", &src), 0);
	assert_int_equal(operand_parse("[::1]:/b", &dst), 0);
	sshargs_remote_remote(&sv, &o, &src, &dst);
	assert_argv(&sv, want2);
	strvec_clear(&sv);
	operand_free(&src);
	operand_free(&dst);
	options_free(&o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sftp),
		cmocka_unit_test(test_sftp_quiet),
		cmocka_unit_test(test_legacy),
		cmocka_unit_test(test_legacy_flags),
		cmocka_unit_test(test_legacy_second),
		cmocka_unit_test(test_legacy_second_plain),
		cmocka_unit_test(test_port_and_order),
		cmocka_unit_test(test_direct),
		cmocka_unit_test(test_direct_port),
		cmocka_unit_test(test_remote_remote),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
