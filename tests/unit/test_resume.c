/*
 * Unit tests for the --resume building blocks of src/fs/outfile.c:
 * partial names that record the source (docs/SAFETY.md), recognising and
 * sweeping stale partials, the verification of a partial's last block,
 * and the "already complete" rule.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/outfile.h"

static void
test_partname_plain(void **state)
{
	struct outfile_src src = { 1234, 1700000000 };
	char *p;

	(void)state;
	p = outfile_partname("file.txt", &src);
	assert_string_equal(p, ".file.txt.1234-1700000000.scp-part");
	free(p);
	p = outfile_partname("file.txt", NULL);
	assert_string_equal(p, ".file.txt.scp-part");
	free(p);
	src.size = 0;
	src.mtime = -5;
	p = outfile_partname("x", &src);
	assert_string_equal(p, ".x.0--5.scp-part");
	free(p);
}

static void
test_partname_long(void **state)
{
	struct outfile_src src = { UINT64_MAX, INT64_MIN };
	char name[NAME_MAX + 1], other[NAME_MAX + 1], *p, *q;

	(void)state;
	memset(name, 'a', NAME_MAX);
	name[NAME_MAX] = '\0';
	memcpy(other, name, sizeof(other));
	other[NAME_MAX - 1] = 'b';
	p = outfile_partname(name, &src);
	q = outfile_partname(other, &src);
	/* Fits, even with the largest numbers, and two long names that
	 * share a long prefix do not share partials. */
	assert_true(strlen(p) <= NAME_MAX);
	assert_true(strlen(q) <= NAME_MAX);
	assert_string_not_equal(p, q);
	assert_true(outfile_is_partname(p, name));
	assert_false(outfile_is_partname(p, other));
	assert_true(outfile_is_partname(q, other));
	free(p);
	free(q);
}

static void
test_is_partname(void **state)
{
	(void)state;
	assert_true(outfile_is_partname(".f.1-2.scp-part", "f"));
	assert_true(outfile_is_partname(".f.10--2.scp-part", "f"));
	assert_true(outfile_is_partname(".f.scp-part", "f"));
	assert_false(outfile_is_partname(".f.1-2.scp-part", "g"));
	assert_false(outfile_is_partname(".f.x-2.scp-part", "f"));
	assert_false(outfile_is_partname(".f.1-.scp-part", "f"));
	assert_false(outfile_is_partname(".f.-2.scp-part", "f"));
	assert_false(outfile_is_partname(".f.1-2.scp-partx", "f"));
	assert_false(outfile_is_partname("f.1-2.scp-part", "f"));
	/* A partial of "f.1-2" is not one of "f" and vice versa matters
	 * only in that sweeping "f" must not take the other's: */
	assert_false(outfile_is_partname(".f.1-2.3-4.scp-part", "f"));
	assert_true(outfile_is_partname(".f.1-2.3-4.scp-part", "f.1-2"));
}

static void
test_range(void **state)
{
	uint64_t off;
	size_t len;

	(void)state;
	outfile_resume_range(0, 100, &off, &len);
	assert_int_equal(len, 0);
	outfile_resume_range(101, 100, &off, &len);
	assert_int_equal(len, 0);
	outfile_resume_range(10, 100, &off, &len);
	assert_int_equal(off, 0);
	assert_int_equal(len, 10);
	outfile_resume_range(100000, 200000, &off, &len);
	assert_int_equal(off, 100000 - OUTFILE_VERIFY_BLOCK);
	assert_int_equal(len, OUTFILE_VERIFY_BLOCK);
	outfile_resume_range(200000, 200000, &off, &len);
	assert_int_equal(len, OUTFILE_VERIFY_BLOCK);
}

static void
test_verify(void **state)
{
	char a[16], b[16];

	(void)state;
	memset(a, 'x', sizeof(a));
	memset(b, 'x', sizeof(b));
	assert_int_equal(outfile_resume_verify(16, 100, a, 16, b, 16), 16);
	/* The whole file already there: continue at its end. */
	assert_int_equal(outfile_resume_verify(16, 16, a, 16, b, 16), 16);
	b[15] = 'y';
	assert_int_equal(outfile_resume_verify(16, 100, a, 16, b, 16), 0);
	b[15] = 'x';
	/* The source is shorter than the range (EOF): start over. */
	assert_int_equal(outfile_resume_verify(16, 100, a, 16, b, 15), 0);
	/* Longer than the source, or empty: nothing to resume. */
	assert_int_equal(outfile_resume_verify(16, 15, a, 16, b, 16), 0);
	assert_int_equal(outfile_resume_verify(0, 15, a, 0, b, 0), 0);
	/* A wrong length from the caller is never trusted. */
	assert_int_equal(outfile_resume_verify(16, 100, a, 8, b, 8), 0);
}

static void
test_complete(void **state)
{
	(void)state;
	assert_true(outfile_is_complete(10, 5, 10, 5, 1, 0));
	assert_false(outfile_is_complete(10, 6, 10, 5, 1, 1));
	assert_false(outfile_is_complete(9, 5, 10, 5, 1, 1));
	assert_true(outfile_is_complete(10, 0, 10, 99, 0, 1));
	assert_false(outfile_is_complete(10, 0, 10, 99, 0, 0));
	assert_false(outfile_is_complete(11, 0, 10, 99, 0, 1));
}

struct tdir {
	char path[64];
	int fd;
};

static int
setup(void **state)
{
	struct tdir *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	snprintf(t->path, sizeof(t->path), "/tmp/test_resume.XXXXXX");
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
put(int dfd, const char *name, const char *data)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	close(fd);
}

static int
exists(int dfd, const char *name)
{
	struct stat st;

	return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static void
test_open_resume_sweeps(void **state)
{
	struct tdir *t = *state;
	struct outfile_src src = { 6, 77 };
	struct outfile of;
	char buf[3];

	put(t->fd, ".f.6-77.scp-part", "abc");
	put(t->fd, ".f.6-76.scp-part", "old");
	put(t->fd, ".f.scp-part", "old");
	put(t->fd, ".g.6-77.scp-part", "other");
	assert_int_equal(outfile_open_src(&of, t->fd, "f", 0644,
	    OUTFILE_NOFOLLOW | OUTFILE_RESUME, &src), 0);
	assert_true(of.resume_off == 3);
	assert_false(exists(t->fd, ".f.6-76.scp-part"));
	assert_false(exists(t->fd, ".f.scp-part"));
	assert_true(exists(t->fd, ".g.6-77.scp-part"));
	assert_int_equal(outfile_pread(&of, buf, 3, 0), 0);
	assert_memory_equal(buf, "abc", 3);
	assert_int_equal(outfile_pread(&of, buf, 3, 2), -1);
	assert_int_equal(outfile_pwrite(&of, "def", 3, 3), 0);
	assert_int_equal(outfile_commit(&of, 6, NULL), 0);
	assert_false(exists(t->fd, ".f.6-77.scp-part"));
	assert_true(exists(t->fd, "f"));
}

static void
test_restart(void **state)
{
	struct tdir *t = *state;
	struct outfile_src src = { 2, 1 };
	struct outfile of;
	struct stat st;

	put(t->fd, ".f.2-1.scp-part", "zzzz");
	assert_int_equal(outfile_open_src(&of, t->fd, "f", 0644,
	    OUTFILE_NOFOLLOW | OUTFILE_RESUME, &src), 0);
	assert_true(of.resume_off == 4);
	assert_int_equal(outfile_restart(&of), 0);
	assert_true(of.resume_off == 0);
	assert_int_equal(outfile_pwrite(&of, "ok", 2, 0), 0);
	assert_int_equal(outfile_commit(&of, 2, NULL), 0);
	assert_int_equal(fstatat(t->fd, "f", &st, 0), 0);
	assert_int_equal(st.st_size, 2);
}

static void
test_no_resume_truncates_and_fresh_skips_sweep(void **state)
{
	struct tdir *t = *state;
	struct outfile_src src = { 2, 1 };
	struct outfile of;

	put(t->fd, ".f.2-1.scp-part", "zzzz");
	put(t->fd, ".f.9-9.scp-part", "keep");
	assert_int_equal(outfile_open_src(&of, t->fd, "f", 0644,
	    OUTFILE_NOFOLLOW, &src), 0);
	assert_true(of.resume_off == 0);
	assert_true(exists(t->fd, ".f.9-9.scp-part"));
	outfile_abort(&of, 1);
	assert_int_equal(outfile_open_src(&of, t->fd, "f", 0644,
	    OUTFILE_NOFOLLOW | OUTFILE_FRESH | OUTFILE_RESUME, &src), 0);
	assert_true(exists(t->fd, ".f.9-9.scp-part"));
	outfile_abort(&of, 1);
	assert_true(exists(t->fd, ".f.2-1.scp-part"));
}

static void
test_sweep_leaves_symlink_targets(void **state)
{
	struct tdir *t = *state;

	put(t->fd, "victim", "precious");
	assert_int_equal(symlinkat("victim", t->fd, ".f.1-1.scp-part"), 0);
	outfile_sweep(t->fd, "f", NULL);
	assert_false(exists(t->fd, ".f.1-1.scp-part"));
	assert_true(exists(t->fd, "victim"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_partname_plain),
		cmocka_unit_test(test_partname_long),
		cmocka_unit_test(test_is_partname),
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_complete),
		cmocka_unit_test_setup_teardown(test_open_resume_sweeps,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_no_resume_truncates_and_fresh_skips_sweep, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_sweep_leaves_symlink_targets, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
