/*
 * The local endpoint (src/xfer/ep_local.c) as the sink of file jobs on
 * the engine, remote (sftp-server) to local: every byte and mode, the
 * failures of one file among many in walk order with nothing left
 * behind, a full disk keeping a clean partial for --resume, and the
 * rules of an existing target (its mode, a symlink followed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/sftp/sftp_int.h"
#include "transport/ssh_child.h"
#include "util/log.h"
#include "xfer/engine.h"
#include "xfer/ep.h"
#include "xfer/file.h"

#include "sftp_harness.h"

struct env {
	struct harness_dir h;
	struct ssh_child c;
	struct sftp_session *s;
	struct sftp_opts o;
	int saved_err;
};

static int
setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	if (e == NULL || harness_dir_enter(&e->h, "xferlocal",
	    LOG_ERROR) != 0) {
		free(e);
		return -1;
	}
	e->c.pid = -1;
	e->saved_err = -1;
	*state = e;
	return 0;
}

static int
teardown(void **state)
{
	struct env *e = *state;
	int r;

	harness_server_stop(&e->c, &e->s);
	r = harness_dir_leave(&e->h);
	free(e);
	return r;
}

static const size_t sizes[] = {
	0, 1, 511, 32767, 32768, 32769, 65536, 100000, 300000, 1100000,
};
#define NSIZES	(sizeof(sizes) / sizeof(sizes[0]))

/*
 * Copies remote files src[i] to local dst[i] as file jobs on one
 * engine, up to `inflight` at once.  Returns the engine's result, or 1
 * when it ended with errors.
 */
static int
copy_files(struct env *e, const char *const *src, const char *const *dst,
    size_t n, size_t inflight)
{
	struct xep *eps[2];
	struct xeng *g;
	struct xfile_ctx fc;
	struct sftp_attr a;
	size_t i;
	int r = 0;

	assert_int_equal(sftp_limits(e->s), 0);
	eps[0] = xep_sftp(e->s);
	eps[1] = xep_local();
	g = xeng_new(eps, 2, inflight, 1024);
	xfile_ctx_init(&fc, eps[0], eps[1], &e->o, e->s);
	for (i = 0; i < n && r == 0; i++) {
		assert_int_equal(sftp_do_stat(e->s, src[i], 0, &a), 0);
		r = xfile_add(g, &fc, src[i], &a, dst[i], 0);
	}
	if (r == 0) {
		r = xeng_drain(g);
	}
	if (r == 0 && xeng_errors(g) > 0) {
		r = 1;
	}
	xeng_free(g);
	xep_free(eps[1]);
	xep_free(eps[0]);
	return r;
}

/* Many files of mixed sizes at once, -p: bytes, modes and times. */
static void
test_many_files(void **state)
{
	struct env *e = *state;
	char *src[60], *dst[60];
	struct stat st, ss;
	size_t i;

	e->o.preserve = 1;
	harness_server_start(&e->c, &e->s, &e->o);
	assert_int_equal(mkdir("t", 0755), 0);
	assert_int_equal(mkdir("u", 0755), 0);
	for (i = 0; i < 60; i++) {
		assert_true(asprintf(&src[i], "t/f%02zu", i) > 0);
		assert_true(asprintf(&dst[i], "u/f%02zu", i) > 0);
		harness_put_pattern(src[i], sizes[i % NSIZES], (unsigned int)i,
		    i % 2 ? 0640 : 0751);
	}
	assert_int_equal(copy_files(e, (const char *const *)src,
	    (const char *const *)dst, 60, 16), 0);
	for (i = 0; i < 60; i++) {
		harness_assert_same(src[i], dst[i]);
		assert_int_equal(stat(src[i], &ss), 0);
		assert_int_equal(stat(dst[i], &st), 0);
		assert_int_equal(st.st_mode & 07777, ss.st_mode & 07777);
		assert_int_equal(st.st_mtime, ss.st_mtime);
		free(src[i]);
		free(dst[i]);
	}
	assert_int_equal(harness_count_parts("u"), 0);
}

#define NOOPEN	"/sys/bus/pci/drivers_probe"

/*
 * Among good files: one whose READs fail, one the server will not
 * open, one whose local target is a directory.  Each is reported in
 * the order given, nothing is left under a temporary name, the others
 * arrive, and the result is 1.
 */
static void
test_failures_in_order(void **state)
{
	struct env *e = *state;
	const char *src[] = { "t/a", "t/mem", "t/b", "t/noopen", "t/c",
	    "t/d" };
	const char *dst[] = { "u/a", "u/mem", "u/b", "u/noopen", "u/cdir",
	    "u/d" };
	char *log, *m1, *m2, *m3;
	size_t n;
	int noopen;

	harness_server_start(&e->c, &e->s, &e->o);
	assert_int_equal(mkdir("t", 0755), 0);
	assert_int_equal(mkdir("u", 0755), 0);
	assert_int_equal(mkdir("u/cdir", 0755), 0);
	harness_put_pattern("t/a", 100000, 1, 0644);
	harness_put_pattern("t/b", 10, 2, 0644);
	harness_put_pattern("t/c", 5000, 3, 0644);
	harness_put_pattern("t/d", 300000, 4, 0644);
	assert_int_equal(symlink("/proc/self/mem", "t/mem"), 0);
	noopen = open(NOOPEN, O_RDONLY) == -1 && errno == EACCES;
	if (noopen) {
		assert_int_equal(symlink(NOOPEN, "t/noopen"), 0);
	} else {
		/* Refused by the server all the same: unreadable. */
		harness_put_pattern("t/noopen", 10, 5, 0644);
		assert_int_equal(chmod("t/noopen", 0), 0);
	}
	e->saved_err = harness_stderr_to("err.txt");
	assert_int_equal(copy_files(e, src, dst, 6, 8), 1);
	harness_stderr_restore(e->saved_err);
	harness_assert_same("t/a", "u/a");
	harness_assert_same("t/b", "u/b");
	harness_assert_same("t/d", "u/d");
	assert_false(harness_exists("u/mem"));
	assert_false(harness_exists("u/noopen"));
	log = harness_get("err.txt", &n);
	m1 = strstr(log, "read remote \"t/mem\" : ");
	m2 = strstr(log, "remote open \"t/noopen\": ");
	m3 = strstr(log, "open local \"u/cdir\": ");
	if (m1 == NULL || m3 == NULL || (getuid() != 0 && m2 == NULL)) {
		fprintf(stderr, "%s", log);
	}
	assert_non_null(m1);
	assert_non_null(m3);
	if (m2 != NULL) {
		assert_true(m1 < m2 && m2 < m3);
	} else {
		/* root reads a mode-0 file: it arrived. */
		assert_true(m1 < m3);
	}
	assert_null(strstr(log, ".scp-part"));
	assert_int_equal(harness_count_parts("u"), 0);
	assert_int_equal(harness_count_parts("u/cdir"), 0);
	free(log);
}

/*
 * A full disk (RLIMIT_FSIZE, SIGXFSZ ignored: EFBIG) in the middle of a
 * file: "write local", no final name, and the partial kept under its
 * temporary name is a clean prefix of the source, for --resume.
 */
static void
test_disk_full(void **state)
{
	struct env *e = *state;
	const char *src[] = { "t/big", "t/small" };
	const char *dst[] = { "u/big", "u/small" };
	struct rlimit old, lim;
	struct dirent *de;
	char *log, *part = NULL, *a, *b;
	size_t n, na, nb;
	DIR *d;

	harness_server_start(&e->c, &e->s, &e->o);
	assert_int_equal(mkdir("t", 0755), 0);
	assert_int_equal(mkdir("u", 0755), 0);
	harness_put_pattern("t/big", 1100000, 7, 0644);
	harness_put_pattern("t/small", 1000, 8, 0644);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 300000;
	signal(SIGXFSZ, SIG_IGN);
	e->saved_err = harness_stderr_to("err.txt");
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	assert_int_equal(copy_files(e, src, dst, 2, 4), 1);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	harness_stderr_restore(e->saved_err);
	signal(SIGXFSZ, SIG_DFL);
	log = harness_get("err.txt", &n);
	if (strstr(log, "write local \"u/big\": File too large") == NULL) {
		fprintf(stderr, "%s", log);
	}
	assert_non_null(strstr(log, "write local \"u/big\": File too large"));
	free(log);
	assert_false(harness_exists("u/big"));
	harness_assert_same("t/small", "u/small");
	assert_int_equal(harness_count_parts("u"), 1);
	d = opendir("u");
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (strstr(de->d_name, ".scp-part") != NULL) {
			assert_true(asprintf(&part, "u/%s", de->d_name) > 0);
		}
	}
	closedir(d);
	assert_non_null(part);
	a = harness_get("t/big", &na);
	b = harness_get(part, &nb);
	assert_true(nb > 0 && nb <= 300000);
	assert_memory_equal(a, b, nb);
	free(a);
	free(b);
	free(part);
}

/*
 * An existing target keeps its mode without -p; a symlink given as the
 * target is written through, the link kept.
 */
static void
test_existing_target(void **state)
{
	struct env *e = *state;
	const char *src[] = { "s1", "s2" };
	const char *dst[] = { "old", "link" };
	struct stat st;

	harness_server_start(&e->c, &e->s, &e->o);
	harness_put_pattern("s1", 70000, 1, 0755);
	harness_put_pattern("s2", 10, 2, 0644);
	harness_put_pattern("old", 5, 3, 0600);
	harness_put_str("real", "previous");
	assert_int_equal(symlink("real", "link"), 0);
	assert_int_equal(copy_files(e, src, dst, 2, 4), 0);
	harness_assert_same("s1", "old");
	assert_int_equal(stat("old", &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(lstat("link", &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	harness_assert_same("s2", "real");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_many_files, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_failures_in_order, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_disk_full, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_existing_target, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
