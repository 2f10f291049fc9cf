/*
 * The -3 relay on the transfer engine (src/xfer): many files in flight
 * between two sftp-server sessions must still give every byte, every
 * mode, and every message in walk order, whatever file fails where.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/sftp/sftp_int.h"
#include "xfer/transfer.h"
#include "transport/ssh_child.h"
#include "util/log.h"
#include "xfer/xfer.h"

#include "sftp_harness.h"

struct env {
	struct harness_dir h;
	struct ssh_child c1, c2;
	struct sftp_session *s1, *s2;
	struct sftp_opts o;
	int saved_err;
};

static int
setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	if (e == NULL || harness_dir_enter(&e->h, "xferrelay",
	    LOG_ERROR) != 0) {
		free(e);
		return -1;
	}
	e->c1.pid = e->c2.pid = -1;
	e->saved_err = -1;
	*state = e;
	return 0;
}

static int
teardown(void **state)
{
	struct env *e = *state;
	int r;

	harness_server_stop(&e->c1, &e->s1);
	harness_server_stop(&e->c2, &e->s2);
	r = harness_dir_leave(&e->h);
	free(e);
	return r;
}

/* Sizes around the block size and the round-trip probes. */
static const size_t sizes[] = {
	0, 1, 511, 512, 32767, 32768, 32769, 65536, 100000, 300000,
};
#define NSIZES	(sizeof(sizes) / sizeof(sizes[0]))

/* 1 if `a` comes before `b` in the listing of `dir`. */
static int
order_of(const char *dir, const char *a, const char *b)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int r = -1;

	assert_non_null(d);
	while (r < 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, a) == 0) {
			r = 1;
		} else if (strcmp(de->d_name, b) == 0) {
			r = 0;
		}
	}
	closedir(d);
	assert_true(r >= 0);
	return r;
}

/* A file that stats as regular but that even root may not open for
 * reading (sysfs, write only); the test for it is skipped without. */
#define NOOPEN	"/sys/bus/pci/drivers_probe"

/* A tree of 120 files in 4 directories, sizes mixed: all arrive. */
static void
test_many_files(void **state)
{
	struct env *e = *state;
	char p[64], q[80];
	size_t i;

	e->o.recursive = 1;
	e->o.preserve = 1;
	harness_server_start(&e->c1, &e->s1, &e->o);
	harness_server_start(&e->c2, &e->s2, &e->o);
	assert_int_equal(mkdir("t", 0755), 0);
	for (i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), "t/d%zu", i);
		assert_int_equal(mkdir(p, 0750), 0);
	}
	for (i = 0; i < 120; i++) {
		snprintf(p, sizeof(p), "t/d%zu/f%03zu", i % 4, i);
		harness_put_pattern(p, sizes[i % NSIZES], (unsigned int)i, 0640);
	}
	assert_int_equal(chmod("t/d2", 0555), 0);
	assert_int_equal(xfer_relay(e->s1, "t", e->s2, "u", 0), 0);
	for (i = 0; i < 120; i++) {
		snprintf(p, sizeof(p), "t/d%zu/f%03zu", i % 4, i);
		snprintf(q, sizeof(q), "u/d%zu/f%03zu", i % 4, i);
		harness_assert_same(p, q);
	}
	/* -p: the modes, a read-only directory's last (after its files). */
	{
		struct stat st;

		assert_int_equal(stat("u/d2", &st), 0);
		assert_int_equal(st.st_mode & 07777, 0555);
		assert_int_equal(stat("u/d1/f001", &st), 0);
		assert_int_equal(st.st_mode & 07777, 0640);
	}
	assert_int_equal(chmod("t/d2", 0755), 0);
	assert_int_equal(chmod("u/d2", 0755), 0);
}

/*
 * A tight budget (one request in flight per file and direction, small
 * blocks): most files wait for the shared budget, and each must still
 * leave the waiting list when its data ends (a file freed while listed
 * was a use after free).
 */
static void
test_tight_budget(void **state)
{
	struct env *e = *state;
	char p[64], q[80];
	size_t i;

	e->o.recursive = 1;
	e->o.nrequests = 1;
	e->o.buffer_len = 512;
	harness_server_start(&e->c1, &e->s1, &e->o);
	harness_server_start(&e->c2, &e->s2, &e->o);
	assert_int_equal(mkdir("t", 0755), 0);
	for (i = 0; i < 150; i++) {
		snprintf(p, sizeof(p), "t/f%03zu", i);
		harness_put_pattern(p, (i * 97) % 3000, (unsigned int)i, 0640);
	}
	assert_int_equal(xfer_relay(e->s1, "t", e->s2, "u", 0), 0);
	for (i = 0; i < 150; i++) {
		snprintf(p, sizeof(p), "t/f%03zu", i);
		snprintf(q, sizeof(q), "u/f%03zu", i);
		harness_assert_same(p, q);
	}
}

/*
 * Files that fail in the middle of many (a READ error on a file that
 * opens, a directory entry that is no regular file): each is reported,
 * in walk order, and every other file arrives; the result is 1.
 */
static void
test_failures_in_order(void **state)
{
	struct env *e = *state;
	char p[64], q[80], *log;
	const char *m1, *m2, *m3;
	size_t i, n;
	int noopen;

	e->o.recursive = 1;
	harness_server_start(&e->c1, &e->s1, &e->o);
	harness_server_start(&e->c2, &e->s2, &e->o);
	assert_int_equal(mkdir("t", 0755), 0);
	for (i = 0; i < 40; i++) {
		snprintf(p, sizeof(p), "t/f%02zu", i);
		harness_put_pattern(p, sizes[i % NSIZES], (unsigned int)i, 0640);
	}
	/* Opens, then every READ fails (EIO at offset 0). */
	assert_int_equal(symlink("/proc/self/mem", "t/f10x"), 0);
	assert_int_equal(symlink("/proc/self/mem", "t/f30x"), 0);
	assert_int_equal(mkfifo("t/f20x", 0644), 0);
	/* STAT says a regular file, OPEN is refused (even to root): the
	 * sink's temporary file, opened in the same round trip, goes. */
	noopen = open(NOOPEN, O_RDONLY) == -1 && errno == EACCES;
	if (noopen) {
		assert_int_equal(symlink(NOOPEN, "t/f25x"), 0);
	}
	e->saved_err = harness_stderr_to("err.txt");
	assert_int_equal(xfer_relay(e->s1, "t", e->s2, "u", 0), 1);
	harness_stderr_restore(e->saved_err);
	for (i = 0; i < 40; i++) {
		snprintf(p, sizeof(p), "t/f%02zu", i);
		snprintf(q, sizeof(q), "u/f%02zu", i);
		harness_assert_same(p, q);
	}
	assert_false(harness_exists("u/f10x"));
	assert_false(harness_exists("u/f30x"));
	assert_false(harness_exists("u/f20x"));
	log = harness_get("err.txt", &n);
	/* The walk names what it lists by the REALPATH of "t". */
	m1 = strstr(log, "/t/f10x\" : ");
	m2 = strstr(log, "/t/f20x\": not a regular file");
	m3 = strstr(log, "/t/f30x\" : ");
	if (m1 == NULL || m2 == NULL || m3 == NULL) {
		fprintf(stderr, "%s", log);
	}
	assert_non_null(m1);
	assert_non_null(m2);
	assert_non_null(m3);
	/* Walk order is the server's READDIR order: readdir(3) here. */
	assert_true(order_of("t", "f10x", "f20x") == (m1 < m2));
	assert_true(order_of("t", "f20x", "f30x") == (m2 < m3));
	if (noopen) {
		assert_non_null(strstr(log, "/t/f25x\": Permission denied"));
		assert_false(harness_exists("u/f25x"));
	}
	/* No temporary name left behind, said or on disk. */
	assert_null(strstr(log, ".scp-part"));
	assert_int_equal(harness_count_parts("u"), 0);
	free(log);
}

/* A target that is a symlink is written through, the link kept. */
static void
test_target_symlink(void **state)
{
	struct env *e = *state;
	struct stat st;

	harness_server_start(&e->c1, &e->s1, &e->o);
	harness_server_start(&e->c2, &e->s2, &e->o);
	harness_put_pattern("src", 70000, 3, 0640);
	harness_put_str("real", "old");
	assert_int_equal(symlink("real", "link"), 0);
	assert_int_equal(xfer_relay(e->s1, "src", e->s2, "link", 0), 0);
	assert_int_equal(lstat("link", &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	harness_assert_same("src", "real");
}

/*
 * A tree listed as jobs: nested directories (entries inserted after
 * their directory, before its later siblings), a symlink to a directory
 * followed, a symlink loop skipped, and the failures of two directories
 * reported in walk order, with every file arrived.
 */
static void
test_tree_walk(void **state)
{
	struct env *e = *state;
	char p[96], q[96], *log;
	const char *m1, *m2, *m3, *m4, *m5;
	size_t i, n;
	int afirst;

	e->o.recursive = 1;
	harness_server_start(&e->c1, &e->s1, &e->o);
	harness_server_start(&e->c2, &e->s2, &e->o);
	assert_int_equal(mkdir("t", 0755), 0);
	assert_int_equal(mkdir("t/a", 0755), 0);
	assert_int_equal(mkdir("t/a/b", 0755), 0);
	assert_int_equal(mkdir("t/a/b/c", 0755), 0);
	assert_int_equal(mkdir("t/z", 0755), 0);
	assert_int_equal(mkdir("t/z/y", 0755), 0);
	assert_int_equal(mkdir("t/z/y/x", 0755), 0);
	assert_int_equal(mkdir("other", 0755), 0);
	for (i = 0; i < 30; i++) {
		snprintf(p, sizeof(p), "t/%s/f%02zu", i % 3 == 0 ? "a" :
		    i % 3 == 1 ? "a/b/c" : "z", i);
		harness_put_pattern(p, sizes[i % NSIZES], (unsigned int)i, 0640);
	}
	harness_put_pattern("other/o", 5000, 9, 0640);
	assert_int_equal(symlink("../../../other", "t/a/b/out"), 0);
	assert_int_equal(symlink("..", "t/a/b/loop"), 0);
	assert_int_equal(mkfifo("t/a/b/c/fifo", 0644), 0);
	assert_int_equal(symlink("/proc/self/mem", "t/z/mem"), 0);
	/* The same in the other branch, whichever is listed first. */
	assert_int_equal(mkfifo("t/z/y/x/fifo", 0644), 0);
	assert_int_equal(symlink("/proc/self/mem", "t/a/mem"), 0);
	e->saved_err = harness_stderr_to("err.txt");
	assert_int_equal(xfer_relay(e->s1, "t", e->s2, "u", 0), 1);
	harness_stderr_restore(e->saved_err);
	for (i = 0; i < 30; i++) {
		snprintf(p, sizeof(p), "t/%s/f%02zu", i % 3 == 0 ? "a" :
		    i % 3 == 1 ? "a/b/c" : "z", i);
		snprintf(q, sizeof(q), "u/%s/f%02zu", i % 3 == 0 ? "a" :
		    i % 3 == 1 ? "a/b/c" : "z", i);
		harness_assert_same(p, q);
	}
	harness_assert_same("other/o", "u/a/b/out/o");
	assert_false(harness_exists("u/a/b/loop"));
	log = harness_get("err.txt", &n);
	m1 = strstr(log, "/t/a/b/loop\": directory loop, skipped");
	m2 = strstr(log, "/t/a/b/c/fifo\": not a regular file");
	m3 = strstr(log, "/t/z/mem\" : ");
	m4 = strstr(log, "/t/z/y/x/fifo\": not a regular file");
	m5 = strstr(log, "/t/a/mem\" : ");
	if (m1 == NULL || m2 == NULL || m3 == NULL || m4 == NULL ||
	    m5 == NULL) {
		fprintf(stderr, "%s", log);
	}
	assert_non_null(m1);
	assert_non_null(m2);
	assert_non_null(m3);
	assert_non_null(m4);
	assert_non_null(m5);
	/* Everything said inside t/a, however deep, on the same side of
	 * everything said inside t/z, as the listing of t orders them. */
	afirst = order_of("t", "a", "z");
	assert_true(afirst == (m1 < m3 && m2 < m3 && m5 < m3 && m1 < m4 &&
	    m2 < m4 && m5 < m4));
	assert_true(!afirst == (m3 < m1 && m3 < m2 && m3 < m5 && m4 < m1 &&
	    m4 < m2 && m4 < m5));
	free(log);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_many_files, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tight_budget, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_failures_in_order, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tree_walk, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_target_symlink, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
