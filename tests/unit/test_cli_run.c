/*
 * Unit tests for the cli dispatch pieces that need no ssh: local copies
 * (localcopy.c) and the server modes (run_server.c) driven over a
 * socketpair with the real legacy engine (PROTOCOL.md sections 1, 2).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <signal.h>
#include <time.h>

#include "cli/options.h"
#include "transport/io.h"
#include "cli/run.h"
#include "util/log.h"

static char tmpdir[64];

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_cli_run.XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		return -1;
	}
	/* Errors printed by the code under test are expected here. */
	log_init("scp", LOG_QUIET, 0);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
write_file(const char *path, const char *data)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(data, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void
assert_file(const char *path, const char *data)
{
	char buf[256];
	size_t n;
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	assert_string_equal(buf, data);
}

static void
init_cli(struct cli *x, struct scp_options *o)
{
	options_init(o);
	memset(x, 0, sizeof(*x));
	x->o = o;
	x->up.pid = -1;
	x->up.fd = -1;
}

static void
test_local_copy(void **state)
{
	struct scp_options o;
	struct cli x;
	char src[128], dst[128], dir[128], missing[128];

	(void)state;
	snprintf(src, sizeof(src), "%s/src", tmpdir);
	snprintf(dst, sizeof(dst), "%s/dst", tmpdir);
	snprintf(dir, sizeof(dir), "%s/dir", tmpdir);
	snprintf(missing, sizeof(missing), "%s/missing", tmpdir);
	write_file(src, "hello\n");
	assert_int_equal(mkdir(dir, 0755), 0);

	init_cli(&x, &o);
	local_copy(&x, src, dst);
	assert_int_equal(x.errs, 0);
	assert_file(dst, "hello\n");

	/* Into a directory: dir/src. */
	local_copy(&x, src, dir);
	assert_int_equal(x.errs, 0);
	snprintf(dst, sizeof(dst), "%s/dir/src", tmpdir);
	assert_file(dst, "hello\n");

	/* A missing source is an error, later copies still work. */
	local_copy(&x, missing, dir);
	assert_true(x.errs > 0);
	snprintf(dst, sizeof(dst), "%s/dir/missing", tmpdir);
	assert_int_equal(access(dst, F_OK), -1);

	/* A directory without -r is refused. */
	init_cli(&x, &o);
	snprintf(dst, sizeof(dst), "%s/dir2", tmpdir);
	local_copy(&x, dir, dst);
	assert_true(x.errs > 0);
	assert_int_equal(access(dst, F_OK), -1);

	/* With -r it is copied. */
	init_cli(&x, &o);
	o.recursive = 1;
	x.sopts.recursive = 1;
	local_copy(&x, dir, dst);
	assert_int_equal(x.errs, 0);
	snprintf(dst, sizeof(dst), "%s/dir2/src", tmpdir);
	assert_file(dst, "hello\n");

	/* Never into itself (cp's rule): dir2 -> dir2, dir2 -> dir2/new. */
	x.errs = 0;
	snprintf(src, sizeof(src), "%s/dir2", tmpdir);
	local_copy(&x, src, src);
	assert_int_equal(x.errs, 1);
	snprintf(dst, sizeof(dst), "%s/dir2/dir2", tmpdir);
	assert_int_equal(access(dst, F_OK), -1);
	snprintf(dst, sizeof(dst), "%s/dir2/new", tmpdir);
	local_copy(&x, src, dst);
	assert_int_equal(x.errs, 2);
	assert_int_equal(access(dst, F_OK), -1);
	options_free(&o);
}

/*
 * Runs run_server() in a child with stdin/stdout on a socketpair; returns
 * our end and the pid.
 */
static int
start_server(char **args, int nargs, pid_t *pid)
{
	struct scp_options o;
	char *argv[16];
	int sv[2], i;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	*pid = fork();
	assert_true(*pid != -1);
	if (*pid == 0) {
		close(sv[0]);
		dup2(sv[1], STDIN_FILENO);
		dup2(sv[1], STDOUT_FILENO);
		close(sv[1]);
		argv[0] = (char *)"scp";
		for (i = 0; i < nargs; i++) {
			argv[i + 1] = args[i];
		}
		argv[nargs + 1] = NULL;
		options_init(&o);
		if (options_parse(&o, nargs + 1, argv) != 0) {
			_exit(99);
		}
		log_init("scp", LOG_INFO, 1);
		_exit(run_server(&o));
	}
	close(sv[1]);
	return sv[0];
}

static int
finish_server(int fd, pid_t pid)
{
	int status;

	close(fd);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void
expect_byte(int fd, char want)
{
	char c = 'x';

	assert_int_equal(read(fd, &c, 1), 1);
	assert_int_equal(c, want);
}

static void
test_server_sink(void **state)
{
	char target[128], path[160], msg[64];
	char *args[2];
	ssize_t n;
	pid_t pid;
	int fd;

	(void)state;
	snprintf(target, sizeof(target), "%s/srv", tmpdir);
	assert_int_equal(mkdir(target, 0755), 0);

	args[0] = (char *)"-t";
	args[1] = target;
	fd = start_server(args, 2, &pid);
	expect_byte(fd, '\0');			/* ready */
	assert_int_equal(write(fd, "C0644 3 f\n", 10), 10);
	expect_byte(fd, '\0');
	assert_int_equal(write(fd, "abc\0", 4), 4);
	expect_byte(fd, '\0');
	assert_int_equal(finish_server(fd, pid), 0);
	snprintf(path, sizeof(path), "%s/f", target);
	assert_file(path, "abc");

	/* Two targets: "ambiguous target" to the peer, exit 1. */
	{
		char *two[3] = { (char *)"-t", target, target };

		fd = start_server(two, 3, &pid);
		n = read(fd, msg, sizeof(msg) - 1);
		assert_true(n > 0);
		msg[n] = '\0';
		assert_string_equal(msg, "\1scp: ambiguous target\n");
		assert_int_equal(finish_server(fd, pid), 1);
	}
}

static void
test_server_source(void **state)
{
	char src[128], buf[64];
	char *args[2];
	ssize_t n;
	size_t got = 0;
	pid_t pid;
	int fd;

	(void)state;
	snprintf(src, sizeof(src), "%s/s1", tmpdir);
	write_file(src, "xyz");
	assert_int_equal(chmod(src, 0640), 0);
	args[0] = (char *)"-f";
	args[1] = src;
	fd = start_server(args, 2, &pid);
	assert_int_equal(write(fd, "", 1), 1);	/* sink ready */
	while (got < 11) {
		n = read(fd, buf + got, sizeof(buf) - got);
		assert_true(n > 0);
		got += (size_t)n;
	}
	assert_memory_equal(buf, "C0640 3 s1\n", 11);
	assert_int_equal(write(fd, "", 1), 1);	/* ack C */
	got = 0;
	while (got < 4) {
		n = read(fd, buf + got, sizeof(buf) - got);
		assert_true(n > 0);
		got += (size_t)n;
	}
	assert_memory_equal(buf, "xyz\0", 4);
	assert_int_equal(write(fd, "", 1), 1);	/* ack data */
	assert_int_equal(finish_server(fd, pid), 0);
}

/* --timeout bounds the wait for a child whose connection we closed;
 * children_abort kills at once; a normal exit status passes through. */
static void
test_child_finish(void **state)
{
	char *sleeper[] = { (char *)"sleep", (char *)"30", NULL };
	char *ok[] = { (char *)"sh", (char *)"-c", (char *)"exit 3", NULL };
	struct ssh_child c;
	time_t t0;

	(void)state;
	assert_int_equal(children_start(&c, ok), 0);
	assert_int_equal(children_finish(&c), 3);
	assert_int_equal(c.pid, -1);

	t0 = time(NULL);
	assert_int_equal(children_start(&c, sleeper), 0);
	assert_int_equal(children_abort(&c), 128 + SIGTERM);
	assert_true(time(NULL) - t0 < 10);

	io_set_timeout(1);
	t0 = time(NULL);
	assert_int_equal(children_start(&c, sleeper), 0);
	assert_int_equal(children_finish(&c), 128 + SIGTERM);
	assert_true(time(NULL) - t0 < 10);
	io_set_timeout(0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_local_copy),
		cmocka_unit_test(test_server_sink),
		cmocka_unit_test(test_server_source),
		cmocka_unit_test(test_child_finish),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
