/*
 * Unit tests for src/fs/outfile.c: atomic temp+rename writes, in-place
 * mode, symlink handling (PROTOCOL.md section 2, "C").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/outfile.h"

struct tdir {
	char path[64];
	int fd;
};

static int
setup(void **state)
{
	struct tdir *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	snprintf(t->path, sizeof(t->path), "/tmp/test_outfile.XXXXXX");
	assert_non_null(mkdtemp(t->path));
	t->fd = open(t->path, O_RDONLY | O_DIRECTORY);
	assert_true(t->fd >= 0);
	outfile_set_umask(022);
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct tdir *t = *state;
	char cmd[128];

	close(t->fd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->path);
	if (system(cmd) != 0) {
		return -1;
	}
	free(t);
	return 0;
}

static void
put(int dfd, const char *name, const char *data, mode_t mode)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

/* Contents of a file (static buffer), or NULL if it cannot be read. */
static const char *
get(int dfd, const char *name)
{
	static char buf[4096];
	ssize_t n;
	int fd = openat(dfd, name, O_RDONLY);

	if (fd == -1) {
		return NULL;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0) {
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

static int
exists(int dfd, const char *name)
{
	struct stat st;

	return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static mode_t
mode_of(int dfd, const char *name)
{
	struct stat st;

	assert_int_equal(fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW), 0);
	return st.st_mode & 07777;
}

static void
test_atomic_commit(void **state)
{
	struct tdir *t = *state;
	struct outfile of;

	assert_int_equal(outfile_open(&of, t->fd, "f", 0777,
	    OUTFILE_NOFOLLOW), 0);
	assert_int_equal(outfile_pwrite(&of, "hello", 5, 0), 0);
	/* Until commit the data lives only under the temporary name. */
	assert_false(exists(t->fd, "f"));
	assert_string_equal(get(t->fd, ".f.scp-part"), "hello");
	assert_int_equal(mode_of(t->fd, ".f.scp-part"), 0600);
	assert_int_equal(outfile_commit(&of, 5, NULL), 0);
	assert_string_equal(get(t->fd, "f"), "hello");
	assert_false(exists(t->fd, ".f.scp-part"));
	/* New file: mode & ~umask. */
	assert_int_equal(mode_of(t->fd, "f"), 0755);
}

static void
test_abort(void **state)
{
	struct tdir *t = *state;
	struct outfile of;

	assert_int_equal(outfile_open(&of, t->fd, "f", 0644,
	    OUTFILE_NOFOLLOW), 0);
	assert_int_equal(outfile_pwrite(&of, "part", 4, 0), 0);
	outfile_abort(&of, 1);
	assert_string_equal(get(t->fd, ".f.scp-part"), "part");
	assert_false(exists(t->fd, "f"));

	assert_int_equal(outfile_open(&of, t->fd, "g", 0644,
	    OUTFILE_NOFOLLOW), 0);
	assert_int_equal(outfile_pwrite(&of, "part", 4, 0), 0);
	outfile_abort(&of, 0);
	assert_false(exists(t->fd, ".g.scp-part"));
	assert_false(exists(t->fd, "g"));
}

static void
test_existing_target(void **state)
{
	struct tdir *t = *state;
	struct outfile of;

	put(t->fd, "f", "old content", 0640);
	assert_int_equal(outfile_open(&of, t->fd, "f", 0777,
	    OUTFILE_NOFOLLOW), 0);
	assert_int_equal(outfile_pwrite(&of, "new", 3, 0), 0);
	assert_string_equal(get(t->fd, "f"), "old content");
	assert_int_equal(outfile_commit(&of, 3, NULL), 0);
	assert_string_equal(get(t->fd, "f"), "new");
	/* Without -p an existing file keeps its mode. */
	assert_int_equal(mode_of(t->fd, "f"), 0640);
}

static void
test_preserve(void **state)
{
	struct tdir *t = *state;
	struct outfile of;
	struct timespec ts[2] = { { 1000, 0 }, { 2000, 500000000 } };
	struct stat st;

	put(t->fd, "f", "old", 0600);
	assert_int_equal(outfile_open(&of, t->fd, "f", 0751,
	    OUTFILE_NOFOLLOW | OUTFILE_PRESERVE), 0);
	assert_int_equal(outfile_pwrite(&of, "x", 1, 0), 0);
	assert_int_equal(outfile_commit(&of, 1, ts), 0);
	assert_int_equal(fstatat(t->fd, "f", &st, 0), 0);
	assert_int_equal(st.st_mode & 07777, 0751);
	assert_int_equal(st.st_atim.tv_sec, 1000);
	assert_int_equal(st.st_mtim.tv_sec, 2000);
	assert_int_equal(st.st_mtim.tv_nsec, 500000000);
}

static void
test_setuid_dropped_without_preserve(void **state)
{
	struct tdir *t = *state;
	struct outfile of;

	assert_int_equal(outfile_open(&of, t->fd, "f", 06755,
	    OUTFILE_NOFOLLOW), 0);
	assert_int_equal(outfile_commit(&of, 0, NULL), 0);
	assert_int_equal(mode_of(t->fd, "f"), 0755);
}

static void
test_nofollow_symlink_replaced(void **state)
{
	struct tdir *t = *state;
	struct outfile of;
	struct stat st;

	put(t->fd, "victim", "precious", 0644);
	assert_int_equal(symlinkat("victim", t->fd, "l"), 0);
	assert_int_equal(outfile_open(&of, t->fd, "l", 0644,
	    OUTFILE_NOFOLLOW), 0);
	assert_int_equal(outfile_pwrite(&of, "data", 4, 0), 0);
	assert_int_equal(outfile_commit(&of, 4, NULL), 0);
	assert_string_equal(get(t->fd, "victim"), "precious");
	assert_int_equal(fstatat(t->fd, "l", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_string_equal(get(t->fd, "l"), "data");
}

static void
test_nofollow_rejects_paths(void **state)
{
	struct tdir *t = *state;
	struct outfile of;

	assert_int_equal(outfile_open(&of, t->fd, "a/b", 0644,
	    OUTFILE_NOFOLLOW), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(outfile_open(&of, t->fd, "", 0644,
	    OUTFILE_NOFOLLOW), -1);
}

static void
test_user_symlink_followed(void **state)
{
	struct tdir *t = *state;
	struct outfile of;
	struct stat st;

	put(t->fd, "real", "old", 0644);
	assert_int_equal(symlinkat("real", t->fd, "l"), 0);
	assert_int_equal(outfile_open(&of, t->fd, "l", 0644, 0), 0);
	assert_int_equal(outfile_pwrite(&of, "through", 7, 0), 0);
	assert_int_equal(outfile_commit(&of, 7, NULL), 0);
	assert_string_equal(get(t->fd, "real"), "through");
	assert_int_equal(fstatat(t->fd, "l", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISLNK(st.st_mode));

	/* A dangling link creates its target, as open(O_CREAT) would. */
	assert_int_equal(mkdirat(t->fd, "sub", 0755), 0);
	assert_int_equal(symlinkat("sub/new", t->fd, "dl"), 0);
	assert_int_equal(outfile_open(&of, t->fd, "dl", 0644, 0), 0);
	assert_int_equal(outfile_pwrite(&of, "n", 1, 0), 0);
	assert_int_equal(outfile_commit(&of, 1, NULL), 0);
	assert_string_equal(get(t->fd, "sub/new"), "n");
}

static void
test_size_mismatch(void **state)
{
	struct tdir *t = *state;
	struct outfile of;

	put(t->fd, "f", "keep", 0644);
	assert_int_equal(outfile_open(&of, t->fd, "f", 0644,
	    OUTFILE_NOFOLLOW), 0);
	assert_int_equal(outfile_pwrite(&of, "ab", 2, 0), 0);
	assert_int_equal(outfile_commit(&of, 10, NULL), -1);
	assert_int_equal(errno, EIO);
	assert_string_equal(get(t->fd, "f"), "keep");
	assert_false(exists(t->fd, ".f.scp-part"));
}

static void
test_directory_target(void **state)
{
	struct tdir *t = *state;
	struct outfile of;

	assert_int_equal(mkdirat(t->fd, "d", 0755), 0);
	assert_int_equal(outfile_open(&of, t->fd, "d", 0644,
	    OUTFILE_NOFOLLOW), -1);
	assert_int_equal(errno, EISDIR);
	assert_int_equal(outfile_open(&of, t->fd, "d", 0644, 0), -1);
	assert_int_equal(errno, EISDIR);
	assert_int_equal(outfile_open(&of, t->fd, "d", 0644,
	    OUTFILE_INPLACE), -1);
	assert_int_equal(errno, EISDIR);
}

static void
test_inplace(void **state)
{
	struct tdir *t = *state;
	struct outfile of;

	put(t->fd, "f", "longer old content", 0640);
	assert_int_equal(outfile_open(&of, t->fd, "f", 0777,
	    OUTFILE_INPLACE | OUTFILE_NOFOLLOW), 0);
	assert_null(of.tmpname);
	assert_int_equal(outfile_pwrite(&of, "new", 3, 0), 0);
	assert_int_equal(outfile_commit(&of, 3, NULL), 0);
	assert_string_equal(get(t->fd, "f"), "new");
	assert_int_equal(mode_of(t->fd, "f"), 0640);
	assert_false(exists(t->fd, ".f.scp-part"));
}

/* A FIFO (like /dev/null) is written in place, never renamed over. */
static void
test_special_file(void **state)
{
	struct tdir *t = *state;
	struct outfile of;
	struct stat st;
	char buf[8];
	int rfd;

	assert_int_equal(mkfifoat(t->fd, "fifo", 0600), 0);
	rfd = openat(t->fd, "fifo", O_RDONLY | O_NONBLOCK);
	assert_true(rfd >= 0);
	assert_int_equal(outfile_open(&of, t->fd, "fifo", 0644,
	    OUTFILE_NOFOLLOW), 0);
	assert_int_equal(outfile_pwrite(&of, "abc", 3, 0), 0);
	assert_int_equal(outfile_commit(&of, 3, NULL), 0);
	assert_int_equal(read(rfd, buf, sizeof(buf)), 3);
	close(rfd);
	assert_int_equal(fstatat(t->fd, "fifo", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISFIFO(st.st_mode));
	assert_false(exists(t->fd, ".fifo.scp-part"));
}

static void
test_long_name(void **state)
{
	struct tdir *t = *state;
	struct outfile of;
	char name[NAME_MAX + 1];

	memset(name, 'x', NAME_MAX);
	name[NAME_MAX] = '\0';
	assert_int_equal(outfile_open(&of, t->fd, name, 0644,
	    OUTFILE_NOFOLLOW), 0);
	assert_true(strlen(of.tmpname) <= NAME_MAX);
	assert_int_equal(outfile_pwrite(&of, "z", 1, 0), 0);
	assert_int_equal(outfile_commit(&of, 1, NULL), 0);
	assert_string_equal(get(t->fd, name), "z");
}

static void
test_planted_tmp_symlink(void **state)
{
	struct tdir *t = *state;
	struct outfile of;

	put(t->fd, "victim", "precious", 0644);
	assert_int_equal(symlinkat("victim", t->fd, ".f.scp-part"), 0);
	assert_int_equal(outfile_open(&of, t->fd, "f", 0644,
	    OUTFILE_NOFOLLOW), 0);
	assert_int_equal(outfile_pwrite(&of, "d", 1, 0), 0);
	assert_int_equal(outfile_commit(&of, 1, NULL), 0);
	assert_string_equal(get(t->fd, "victim"), "precious");
	assert_string_equal(get(t->fd, "f"), "d");
}

static void
test_resume(void **state)
{
	struct tdir *t = *state;
	struct outfile of;

	put(t->fd, ".f.scp-part", "abc", 0600);
	assert_int_equal(outfile_open(&of, t->fd, "f", 0644,
	    OUTFILE_NOFOLLOW | OUTFILE_RESUME), 0);
	assert_true(of.resume_off == 3);
	assert_int_equal(outfile_pwrite(&of, "def", 3, 3), 0);
	assert_int_equal(outfile_commit(&of, 6, NULL), 0);
	assert_string_equal(get(t->fd, "f"), "abcdef");
}

static void
test_cwd_relative(void **state)
{
	struct tdir *t = *state;
	struct outfile of;
	char path[128];

	snprintf(path, sizeof(path), "%s/cwdfile", t->path);
	assert_int_equal(outfile_open(&of, AT_FDCWD, path, 0644, 0), 0);
	assert_int_equal(outfile_pwrite(&of, "q", 1, 0), 0);
	assert_int_equal(outfile_commit(&of, 1, NULL), 0);
	assert_string_equal(get(t->fd, "cwdfile"), "q");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_atomic_commit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_abort, setup, teardown),
		cmocka_unit_test_setup_teardown(test_existing_target, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_preserve, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_setuid_dropped_without_preserve, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_nofollow_symlink_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nofollow_rejects_paths,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_user_symlink_followed,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_size_mismatch, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_directory_target, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_inplace, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_special_file, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_long_name, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_planted_tmp_symlink,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_resume, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cwd_relative, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
