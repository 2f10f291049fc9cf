/*
 * Unit tests for src/transport/pool.c: the argv of each kind of member,
 * and whole pools of local sftp-servers (-D).  The configurations are
 * built as scp builds them, by src/cli's sftp_pool_cfg_init(), so the
 * argv cases check what really reaches ssh.  With POOL_TEST_SSHCONF set,
 * one more case opens a real pool over ssh (driven by
 * tests/integration/t0901-pool.sh):
 *	POOL_TEST_SSHCONF	ssh -F file
 *	POOL_TEST_HOST		host alias
 *	POOL_TEST_DIR		remote directory writable by the login user
 *	POOL_TEST_CHANNELS, POOL_TEST_CONNS	what to ask for
 *	POOL_TEST_EXPECT	how many sessions must open
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli/options.h"
#include "cli/run.h"
#include "proto/sftp/sftp.h"
#include "transport/pool.h"
#include "util/log.h"
#include "util/parse.h"
#include "util/strvec.h"
#include "xfer/xfer.h"

#define SFTP_SERVER	"/usr/lib/openssh/sftp-server"

#define BASE_TAIL "-x", "-oPermitLocalCommand=no", \
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

static void
check(const char *const *args, enum pool_role role, const char *ctl,
    const char *const *want)
{
	struct scp_options o;
	struct sftp_pool_cfg c;
	struct sftp_opts fo;
	struct strvec sv;

	parse_opts(&o, args);
	memset(&fo, 0, sizeof(fo));
	sftp_pool_cfg_init(&c, &o, &fo, "h", "u", -1);
	strvec_init(&sv);
	pool_argv(&sv, &c.pc, role, ctl);
	assert_argv(&sv, want);
	strvec_clear(&sv);
	sftp_pool_cfg_release(&c);
	options_free(&o);
}

/* The master's options come before the user's ControlMaster/Path. */
static void
test_master(void **state)
{
	static const char *const args[] = { "-oControlMaster=auto",
	    "-oControlPath=/home/u/.ssh/cm-%r", "a", "b", NULL };
	static const char *const want[] = { "/usr/bin/ssh",
	    "-oControlMaster=yes", "-oControlPath=/tmp/scp-pool.x/cm",
	    "-oControlPersist=no", BASE_TAIL,
	    "-o", "ControlMaster=auto", "-o", "ControlPath=/home/u/.ssh/cm-%r",
	    "-oForwardAgent=no", "-l", "u", "-s", "--", "h", "sftp", NULL };

	(void)state;
	check(args, POOL_MASTER, "/tmp/scp-pool.x/cm", want);
}

static void
test_mux(void **state)
{
	static const char *const args[] = { "-P", "2222", "a", "b", NULL };
	static const char *const want[] = { "/usr/bin/ssh",
	    "-oControlMaster=no", "-oControlPath=/tmp/p/cm",
	    "-oBatchMode=yes", "-oLogLevel=QUIET", "-oProxyCommand=false",
	    BASE_TAIL, "-oForwardAgent=no", "-p", "2222", "-l", "u", "-s",
	    "--", "h", "sftp", NULL };

	(void)state;
	check(args, POOL_MUX, "/tmp/p/cm", want);
}

/* -v keeps ssh's messages; -J cannot be combined with ProxyCommand. */
static void
test_mux_verbose_jump(void **state)
{
	static const char *const args[] = { "-v", "-J", "jump", "a", "b",
	    NULL };
	static const char *const want[] = { "/usr/bin/ssh",
	    "-oControlMaster=no", "-oControlPath=/tmp/p/cm",
	    "-oBatchMode=yes", BASE_TAIL, "-v", "-J", "jump",
	    "-oForwardAgent=no", "-l", "u", "-s", "--", "h", "sftp", NULL };
	static const char *const args2[] = { "-o", "proxyjump j2", "a", "b",
	    NULL };
	static const char *const want2[] = { "/usr/bin/ssh",
	    "-oControlMaster=no", "-oControlPath=/tmp/p/cm",
	    "-oBatchMode=yes", "-oLogLevel=QUIET", BASE_TAIL, "-o",
	    "proxyjump j2", "-oForwardAgent=no", "-l", "u", "-s", "--", "h",
	    "sftp", NULL };
	static const char *const args3[] = { "-o", "ProxyJumpy=1", "a", "b",
	    NULL };
	static const char *const want3[] = { "/usr/bin/ssh",
	    "-oControlMaster=no", "-oControlPath=/tmp/p/cm",
	    "-oBatchMode=yes", "-oLogLevel=QUIET", "-oProxyCommand=false",
	    BASE_TAIL, "-o", "ProxyJumpy=1", "-oForwardAgent=no", "-l", "u",
	    "-s", "--", "h", "sftp", NULL };

	(void)state;
	check(args, POOL_MUX, "/tmp/p/cm", want);
	check(args2, POOL_MUX, "/tmp/p/cm", want2);
	check(args3, POOL_MUX, "/tmp/p/cm", want3);
}

/* Extra connections never join anybody's master.  -q: the first ssh's
 * -oLogLevel=FATAL (run.h, the fallback under -q) comes after their
 * own QUIET, which wins. */
static void
test_conn(void **state)
{
	static const char *const args[] = { "-S", "/opt/ssh", "-q", "a", "b",
	    NULL };
	static const char *const want[] = { "/opt/ssh",
	    "-oControlMaster=no", "-oControlPath=none", "-oBatchMode=yes",
	    "-oLogLevel=QUIET", BASE_TAIL, "-oLogLevel=FATAL",
	    "-oForwardAgent=no", "-l",
	    "u", "-s", "--", "h", "sftp", NULL };

	(void)state;
	check(args, POOL_CONN, "/ignored", want);
}

/* A '%' in the socket path must reach ssh as "%%". */
static void
test_percent(void **state)
{
	static const char *const args[] = { "a", "b", NULL };
	static const char *const want[] = { "/usr/bin/ssh",
	    "-oControlMaster=yes", "-oControlPath=/t%%mp/x%%%%/cm",
	    "-oControlPersist=no", BASE_TAIL, "-oForwardAgent=no", "-l", "u",
	    "-s", "--", "h", "sftp", NULL };

	(void)state;
	check(args, POOL_MASTER, "/t%mp/x%%/cm", want);
}

/* A pool of one, and -D, use the plain argv. */
static void
test_plain(void **state)
{
	static const char *const args[] = { "a", "b", NULL };
	static const char *const want[] = { "/usr/bin/ssh", BASE_TAIL,
	    "-oForwardAgent=no", "-l", "u", "-s", "--", "h", "sftp", NULL };
	static const char *const dargs[] = { "-D", "/srv", "-P", "7", "a",
	    "b", NULL };
	static const char *const dwant[] = { "/srv", "-p", "7", "--", "h",
	    "sftp", NULL };

	(void)state;
	check(args, POOL_MASTER, NULL, want);
	check(dargs, POOL_DIRECT, NULL, dwant);
	check(dargs, POOL_MUX, "/tmp/x/cm", dwant);
	check(dargs, POOL_CONN, NULL, dwant);
}

/* --- whole pools ------------------------------------------------- */

static void
write_file(const char *path, const char *text)
{
	FILE *f;

	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void
assert_file(const char *path, const char *text)
{
	char got[256];
	FILE *f;
	size_t n;

	f = fopen(path, "r");
	if (f == NULL) {
		fail_msg("missing %s", path);
	}
	n = fread(got, 1, sizeof(got) - 1, f);
	got[n] = '\0';
	fclose(f);
	assert_string_equal(got, text);
}

/* Every session of `p` uploads its own file to dir/pool.I. */
static void
use_all(struct pool *p, const char *dir, const char *remote_dir)
{
	char src[512], dst[512], text[64];
	size_t i;

	for (i = 0; i < p->n; i++) {
		snprintf(src, sizeof(src), "%s/src.%zu", dir, i);
		snprintf(text, sizeof(text), "session %zu\n", i);
		write_file(src, text);
		snprintf(dst, sizeof(dst), "%s/pool.%zu", remote_dir, i);
		assert_int_equal(sftp_upload(pool_session(p, i), src, dst, 0),
		    0);
	}
	assert_null(pool_session(p, p->n));
}

static void
test_direct_pool(void **state)
{
	static const char *const args[] = { "-D", SFTP_SERVER, "a", "b",
	    NULL };
	struct scp_options o;
	struct sftp_opts fo;
	struct sftp_pool_cfg c;
	struct pool p;
	char dir[] = "/tmp/test_transport_pool.XXXXXX", path[512], text[64];
	size_t i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	parse_opts(&o, args);
	memset(&fo, 0, sizeof(fo));
	sftp_pool_cfg_init(&c, &o, &fo, "h", NULL, -1);
	assert_int_equal(pool_open(&p, &c.pc, 3, 1), 0);
	assert_int_equal(p.n, 4);
	assert_int_equal(p.refused, 0);
	assert_null(p.dir);
	for (i = 0; i < p.n; i++) {
		assert_int_equal(p.m[i]->role, POOL_DIRECT);
	}
	use_all(&p, dir, dir);
	assert_int_equal(pool_close(&p, 0), 0);
	assert_int_equal(p.n, 0);
	assert_int_equal(pool_close(&p, 0), 0);
	for (i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/pool.%zu", dir, i);
		snprintf(text, sizeof(text), "session %zu\n", i);
		assert_file(path, text);
		unlink(path);
		snprintf(path, sizeof(path), "%s/src.%zu", dir, i);
		unlink(path);
	}
	rmdir(dir);
	sftp_pool_cfg_release(&c);
	options_free(&o);
}

/* More than POOL_MAX asked: capped, counted as refused. */
static void
test_direct_cap(void **state)
{
	static const char *const args[] = { "-D", SFTP_SERVER, "a", "b",
	    NULL };
	struct scp_options o;
	struct sftp_opts fo;
	struct sftp_pool_cfg c;
	struct pool p;

	(void)state;
	parse_opts(&o, args);
	memset(&fo, 0, sizeof(fo));
	sftp_pool_cfg_init(&c, &o, &fo, "h", NULL, -1);
	assert_int_equal(pool_open(&p, &c.pc, 8, 4), 0);
	assert_int_equal(p.n, POOL_MAX);
	assert_int_equal(p.refused, 12 - POOL_MAX);
	assert_int_equal(pool_close(&p, 1), 0);
	sftp_pool_cfg_release(&c);
	options_free(&o);
}

/* The first session failing is the pool failing, nothing left over. */
static void
test_first_fails(void **state)
{
	static const char *const args[] = { "-D", "/bin/false", "a", "b",
	    NULL };
	struct scp_options o;
	struct sftp_opts fo;
	struct sftp_pool_cfg c;
	struct pool p;

	(void)state;
	parse_opts(&o, args);
	memset(&fo, 0, sizeof(fo));
	sftp_pool_cfg_init(&c, &o, &fo, "h", NULL, -1);
	/* Its "Connection closed" would make t0901's stderr check fail. */
	log_init(NULL, LOG_QUIET, 0);
	assert_int_not_equal(pool_open(&p, &c.pc, 4, 0), 0);
	log_init(NULL, LOG_INFO, 0);
	assert_int_equal(p.n, 0);
	assert_null(p.dir);
	assert_int_equal(pool_close(&p, 0), 0);
	sftp_pool_cfg_release(&c);
	options_free(&o);
}

/* Extra local servers that die at once only shrink the pool: a wrapper
 * that is a real server the first time and exits after. */
static void
test_direct_extras_fail(void **state)
{
	struct scp_options o;
	struct sftp_opts fo;
	struct sftp_pool_cfg c;
	struct pool p;
	char dir[] = "/tmp/test_transport_pool.XXXXXX", script[512], flag[512];
	const char *args[6];
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(script, sizeof(script), "%s/srv", dir);
	snprintf(flag, sizeof(flag), "%s/once", dir);
	f = fopen(script, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\nif mkdir '%s' 2>/dev/null; then exec %s; fi\n"
	    "exit 1\n", flag, SFTP_SERVER);
	fclose(f);
	assert_int_equal(chmod(script, 0700), 0);
	args[0] = "-D";
	args[1] = script;
	args[2] = "a";
	args[3] = "b";
	args[4] = NULL;
	parse_opts(&o, args);
	memset(&fo, 0, sizeof(fo));
	sftp_pool_cfg_init(&c, &o, &fo, "h", NULL, -1);
	assert_int_equal(pool_open(&p, &c.pc, 2, 2), 0);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.refused, 3);
	use_all(&p, dir, dir);
	assert_int_equal(pool_close(&p, 0), 0);
	unlink(script);
	rmdir(flag);
	snprintf(script, sizeof(script), "%s/src.0", dir);
	unlink(script);
	snprintf(script, sizeof(script), "%s/pool.0", dir);
	unlink(script);
	rmdir(dir);
	sftp_pool_cfg_release(&c);
	options_free(&o);
}

static int
env_count(const char *name, int dflt)
{
	const char *v;
	uint64_t n;

	v = getenv(name);
	if (v == NULL) {
		return dflt;
	}
	if (parse_uint_str(v, 0, 64, &n) != 0) {
		fail_msg("bad %s", name);
	}
	return (int)n;
}

/* A real pool over ssh (see the top of this file). */
static void
test_ssh_pool(void **state)
{
	const char *conf, *host, *rdir, *args[8];
	struct scp_options o;
	struct sftp_opts fo;
	struct sftp_pool_cfg c;
	struct pool p;
	struct stat st;
	char dir[] = "/tmp/test_transport_pool.XXXXXX", ctl[512];
	int want, channels, conns;

	(void)state;
	conf = getenv("POOL_TEST_SSHCONF");
	host = getenv("POOL_TEST_HOST");
	rdir = getenv("POOL_TEST_DIR");
	if (conf == NULL || host == NULL || rdir == NULL) {
		skip();
	}
	channels = env_count("POOL_TEST_CHANNELS", 4);
	conns = env_count("POOL_TEST_CONNS", 0);
	want = env_count("POOL_TEST_EXPECT", channels + conns);
	assert_non_null(mkdtemp(dir));
	args[0] = "-F";
	args[1] = conf;
	args[2] = "a";
	args[3] = "b";
	args[4] = NULL;
	parse_opts(&o, args);
	memset(&fo, 0, sizeof(fo));
	sftp_pool_cfg_init(&c, &o, &fo, host, NULL, -1);
	assert_int_equal(pool_open(&p, &c.pc, channels, conns), 0);
	assert_int_equal(p.n, want);
	assert_int_equal(p.n + p.refused, channels + conns);
	if (channels > 1) {
		assert_non_null(p.ctlpath);
		assert_int_equal(lstat(p.ctlpath, &st), 0);
		assert_true(S_ISSOCK(st.st_mode));
		snprintf(ctl, sizeof(ctl), "%s", p.dir);
	} else {
		ctl[0] = '\0';
	}
	use_all(&p, dir, rdir);
	assert_int_equal(pool_close(&p, 0), 0);
	assert_null(p.dir);
	if (ctl[0] != '\0') {
		/* The private directory and socket are gone. */
		assert_int_equal(lstat(ctl, &st), -1);
	}
	printf("pool: %d sessions of %d\n", want, channels + conns);
	sftp_pool_cfg_release(&c);
	options_free(&o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_master),
		cmocka_unit_test(test_mux),
		cmocka_unit_test(test_mux_verbose_jump),
		cmocka_unit_test(test_conn),
		cmocka_unit_test(test_percent),
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_direct_pool),
		cmocka_unit_test(test_direct_cap),
		cmocka_unit_test(test_first_fails),
		cmocka_unit_test(test_direct_extras_fail),
		cmocka_unit_test(test_ssh_pool),
	};

	/* As scp does (cli/child.c): a refused session's dead ssh must give
	 * EPIPE, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
