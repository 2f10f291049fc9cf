/*
 * SFTP mode's use of OpenSSH's extensions (PROTOCOL.md section 4,
 * docs/protocol-sftp.md "Extensions"): --fsync against the real
 * sftp-server, with and without fsync@openssh.com.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/outfile.h"
#include "proto/sftp/sftp_int.h"
#include "transport/io.h"
#include "transport/ssh_child.h"
#include "util/err.h"
#include "util/log.h"

#define SERVER "/usr/lib/openssh/sftp-server"

struct env {
	char dir[64];
	char oldcwd[4096];
	struct ssh_child c;
	struct sftp_session *s;
	struct sftp_opts o;
};

static int
setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	signal(SIGPIPE, SIG_IGN);
	log_init("scp", LOG_ERROR, 0);
	umask(022);
	outfile_set_umask(022);
	snprintf(e->dir, sizeof(e->dir), "/tmp/sftpext.XXXXXX");
	if (mkdtemp(e->dir) == NULL || getcwd(e->oldcwd,
	    sizeof(e->oldcwd)) == NULL || chdir(e->dir) != 0) {
		return -1;
	}
	e->c.pid = -1;
	*state = e;
	return 0;
}

static int
teardown(void **state)
{
	struct env *e = *state;
	char cmd[128];

	sftp_session_free(e->s);
	if (e->c.pid != -1) {
		ssh_child_finish(&e->c);
	}
	if (chdir(e->oldcwd) != 0) {
		return -1;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
	if (system(cmd) != 0) {
		return -1;
	}
	free(e);
	return 0;
}

static void
start(struct env *e)
{
	char *argv[] = { (char *)SERVER, NULL };

	assert_int_equal(ssh_child_start(&e->c, argv), 0);
	assert_int_equal(sftp_session_open(&e->s, e->c.fd, e->c.fd, &e->o),
	    0);
}

static void
put_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
	close(fd);
}

static void
assert_file(const char *path, const char *want)
{
	char got[256];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	n = read(fd, got, sizeof(got));
	close(fd);
	assert_int_equal(n, (ssize_t)strlen(want));
	assert_memory_equal(got, want, (size_t)n);
}

static int
exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* --fsync with a server offering fsync@openssh.com: both directions. */
static void
test_fsync_offered(void **state)
{
	struct env *e = *state;

	e->o.fsync = 1;
	start(e);
	assert_true(e->s->exts & SFTP_EXT_FSYNC);
	put_str("src.txt", "synced data\n");
	assert_int_equal(sftp_upload(e->s, "src.txt", "up.txt", 0), 0);
	assert_file("up.txt", "synced data\n");
	assert_false(exists(".up.txt.scp-part"));
	assert_int_equal(sftp_download(e->s, "up.txt", "down.txt"), 0);
	assert_file("down.txt", "synced data\n");
	/* In place too (no temporary name). */
	e->o.inplace = 1;
	assert_int_equal(sftp_upload(e->s, "src.txt", "inpl.txt", 0), 0);
	assert_file("inpl.txt", "synced data\n");
	assert_int_equal(sftp_download(e->s, "inpl.txt", "inpl2.txt"), 0);
	assert_file("inpl2.txt", "synced data\n");
	assert_false(e->s->fsync_warned);
}

/* Without the extension --fsync is a note under -v, never a failure. */
static void
test_fsync_absent(void **state)
{
	struct env *e = *state;

	e->o.fsync = 1;
	start(e);
	e->s->exts &= ~SFTP_EXT_FSYNC;
	put_str("a", "one\n");
	put_str("b", "two\n");
	assert_int_equal(sftp_upload(e->s, "a", "a.up", 0), 0);
	assert_true(e->s->fsync_warned);
	assert_int_equal(sftp_upload(e->s, "b", "b.up", 0), 0);
	assert_file("a.up", "one\n");
	assert_file("b.up", "two\n");
	assert_int_equal(sftp_download(e->s, "b.up", "b.down"), 0);
	assert_file("b.down", "two\n");
}

/* -3 through rfile_finish with --fsync. */
static void
test_fsync_crossload(void **state)
{
	struct env *e = *state;
	struct ssh_child c2;
	struct sftp_session *s2 = NULL;
	char *argv[] = { (char *)SERVER, NULL };

	e->o.fsync = 1;
	start(e);
	assert_int_equal(ssh_child_start(&c2, argv), 0);
	assert_int_equal(sftp_session_open(&s2, c2.fd, c2.fd, &e->o), 0);
	put_str("x", "relayed\n");
	assert_int_equal(sftp_crossload(e->s, "x", s2, "y", 0), 0);
	assert_file("y", "relayed\n");
	sftp_session_free(s2);
	ssh_child_finish(&c2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fsync_offered, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fsync_absent, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fsync_crossload, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
