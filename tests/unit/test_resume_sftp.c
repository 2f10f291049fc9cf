/*
 * --resume over SFTP against OpenSSH's sftp-server (run as a child over a
 * socketpair in a temporary directory, as in test_sftp_e2e.c): partials
 * are continued after their verified last block, refused when that block
 * differs, complete files skipped, and upload targets that are symlinks
 * written through (docs/SAFETY.md).
 *
 * To show that a resumed copy transferred only the rest, the partials
 * planted here differ from the source in their FIRST byte (outside the
 * verified last block): the result keeps that byte.
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
#include "xfer/transfer.h"
#include "transport/ssh_child.h"
#include "util/log.h"
#include "xfer/xfer.h"

#include "sftp_harness.h"

#define SIZE	100000
#define HAVE	60000

struct env {
	struct harness_dir h;
	struct ssh_child c;
	struct sftp_session *s;
	struct sftp_opts o;
	unsigned char data[SIZE];
};

static int
setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	size_t i;

	if (e == NULL ||
	    harness_dir_enter(&e->h, "resumesftp", LOG_ERROR) != 0) {
		free(e);
		return -1;
	}
	for (i = 0; i < SIZE; i++) {
		e->data[i] = (unsigned char)(i * 7 + i / 251);
	}
	e->c.pid = -1;
	e->o.resume = 1;
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

static void
start(struct env *e)
{
	harness_server_start(&e->c, &e->s, &e->o);
}

static void
put(const char *path, const void *p, size_t n)
{
	harness_put(path, p, n, 0644);
}

/* Compares `path` with e->data, except byte 0 which must be `first`. */
static void
check(struct env *e, const char *path, unsigned char first)
{
	unsigned char *buf = malloc(SIZE + 1);
	int fd = open(path, O_RDONLY);

	assert_non_null(buf);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, SIZE + 1), SIZE);
	close(fd);
	assert_int_equal(buf[0], first);
	assert_memory_equal(buf + 1, e->data + 1, SIZE - 1);
	free(buf);
}

/* The partial name the source `path` gets, in directory `dir`. */
static char *
part(const char *path, const char *dir, const char *name)
{
	struct outfile_src src;
	struct stat st;
	char *p, *full;
	size_t n;

	assert_int_equal(stat(path, &st), 0);
	src.size = (uint64_t)st.st_size;
	src.mtime = st.st_mtime;
	p = outfile_partname(name, &src);
	n = strlen(dir) + strlen(p) + 2;
	full = malloc(n);
	assert_non_null(full);
	snprintf(full, n, "%s/%s", dir, p);
	free(p);
	return full;
}

static void
plant(struct env *e, const char *path, size_t have, int bad_last)
{
	unsigned char *p = malloc(have);

	assert_non_null(p);
	memcpy(p, e->data, have);
	p[0] ^= 0xff;
	if (bad_last) {
		p[have - 1] ^= 0xff;
	}
	put(path, p, have);
	free(p);
}

static void
test_download_resumed(void **state)
{
	struct env *e = *state;
	char *pp;

	put("src", e->data, SIZE);
	assert_int_equal(mkdir("dl", 0755), 0);
	pp = part("src", "dl", "f");
	plant(e, pp, HAVE, 0);
	start(e);
	assert_int_equal(sftp_download(e->s, "src", "dl/f"), 0);
	check(e, "dl/f", e->data[0] ^ 0xff);
	assert_false(harness_exists(pp));
	free(pp);
}

static void
test_download_not_prefix(void **state)
{
	struct env *e = *state;
	char *pp;

	put("src", e->data, SIZE);
	assert_int_equal(mkdir("dl", 0755), 0);
	pp = part("src", "dl", "f");
	plant(e, pp, HAVE, 1);
	start(e);
	assert_int_equal(sftp_download(e->s, "src", "dl/f"), 0);
	check(e, "dl/f", e->data[0]);
	free(pp);
}

static void
test_download_complete_skipped(void **state)
{
	struct env *e = *state;
	struct timespec ts[2] = { { 1000000, 0 }, { 1000000, 0 } };
	struct stat st;

	put("src", e->data, SIZE);
	put("f", e->data, SIZE);
	assert_int_equal(utimensat(AT_FDCWD, "f", ts, 0), 0);
	start(e);
	assert_int_equal(sftp_download(e->s, "src", "f"), 0);
	assert_int_equal(stat("f", &st), 0);
	assert_int_equal(st.st_mtime, 1000000);
}

static void
test_upload_resumed(void **state)
{
	struct env *e = *state;
	char *pp;

	put("src", e->data, SIZE);
	assert_int_equal(mkdir("up", 0755), 0);
	pp = part("src", "up", "f");
	plant(e, pp, HAVE, 0);
	start(e);
	assert_int_equal(sftp_upload(e->s, "src", "up/f", 0), 0);
	check(e, "up/f", e->data[0] ^ 0xff);
	assert_false(harness_exists(pp));
	free(pp);
}

static void
test_upload_not_prefix(void **state)
{
	struct env *e = *state;
	char *pp;

	put("src", e->data, SIZE);
	assert_int_equal(mkdir("up", 0755), 0);
	pp = part("src", "up", "f");
	plant(e, pp, HAVE, 1);
	start(e);
	assert_int_equal(sftp_upload(e->s, "src", "up/f", 0), 0);
	check(e, "up/f", e->data[0]);
	free(pp);
}

static void
test_upload_stale_removed(void **state)
{
	struct env *e = *state;

	put("src", e->data, SIZE);
	assert_int_equal(mkdir("up", 0755), 0);
	put("up/.f.5-5.scp-part", "xxxxx", 5);
	put("up/.g.5-5.scp-part", "xxxxx", 5);
	start(e);
	assert_int_equal(sftp_upload(e->s, "src", "up/f", 0), 0);
	check(e, "up/f", e->data[0]);
	assert_false(harness_exists("up/.f.5-5.scp-part"));
	assert_true(harness_exists("up/.g.5-5.scp-part"));
}

static void
test_upload_through_symlink(void **state)
{
	struct env *e = *state;
	struct stat st;

	e->o.resume = 0;
	put("src", e->data, SIZE);
	put("real", "old", 3);
	assert_int_equal(symlink("real", "link"), 0);
	start(e);
	assert_int_equal(sftp_upload(e->s, "src", "link", 0), 0);
	assert_int_equal(lstat("link", &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	check(e, "real", e->data[0]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_download_resumed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_download_not_prefix,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_download_complete_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upload_resumed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_upload_not_prefix, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_upload_stale_removed,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_upload_through_symlink,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
