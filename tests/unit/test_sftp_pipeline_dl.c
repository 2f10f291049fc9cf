/*
 * Downloads with many files in flight (dl_queue.c, "Many files in
 * flight" in docs/protocol-sftp.md) against OpenSSH's own sftp-server on
 * a socketpair: trees of hundreds of files byte-identical, glob operands,
 * and per-file errors reported on the right file, in walk order, while
 * the other files arrive.
 *
 * The server runs as "nobody" when we are root, so that a file of mode
 * 000 is unreadable to it (as it is to any non-root user running us).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs/outfile.h"
#include "proto/sftp/sftp_int.h"
#include "xfer/transfer.h"
#include "util/log.h"
#include "xfer/xfer.h"

#define SERVER		"/usr/lib/openssh/sftp-server"
#define NOBODY		65534
#define NDIRS		3
#define PER_DIR		100

struct env {
	char dir[64];
	char oldcwd[4096];
	pid_t pid;
	int fd;
	struct sftp_session *s;
	struct sftp_opts o;
};

static int
rm_rf(const char *path)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "chmod -R u+rwx '%s' 2>/dev/null; "
	    "rm -rf '%s'", path, path);
	return system(cmd);
}

/* sftp-server on a socketpair, as nobody when we are root. */
static void
start(struct env *e)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	e->pid = fork();
	assert_true(e->pid >= 0);
	if (e->pid == 0) {
		close(sv[0]);
		if (geteuid() == 0 &&
		    (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 ||
		    setuid(NOBODY) != 0)) {
			_exit(127);
		}
		if (dup2(sv[1], 0) == -1 || dup2(sv[1], 1) == -1) {
			_exit(127);
		}
		execl(SERVER, SERVER, (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	e->fd = sv[0];
	assert_int_equal(sftp_session_open(&e->s, e->fd, e->fd, &e->o), 0);
}

static int
setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	signal(SIGPIPE, SIG_IGN);
	log_init("scp", LOG_ERROR, 0);
	umask(022);
	outfile_set_umask(022);
	snprintf(e->dir, sizeof(e->dir), "/tmp/sftppdl.XXXXXX");
	if (mkdtemp(e->dir) == NULL || chmod(e->dir, 0755) != 0 ||
	    getcwd(e->oldcwd, sizeof(e->oldcwd)) == NULL ||
	    chdir(e->dir) != 0) {
		return -1;
	}
	e->pid = -1;
	e->fd = -1;
	e->o.recursive = 1;
	*state = e;
	return 0;
}

static int
teardown(void **state)
{
	struct env *e = *state;
	int st;

	sftp_session_free(e->s);
	if (e->fd != -1) {
		close(e->fd);
	}
	if (e->pid > 0) {
		(void)waitpid(e->pid, &st, 0);
	}
	if (chdir(e->oldcwd) != 0) {
		return -1;
	}
	rm_rf(e->dir);
	free(e);
	return 0;
}

/* Size of file i: empty, tiny, block edges, several blocks, one big. */
static size_t
size_of(int d, int i)
{
	static const size_t sizes[] = { 0, 1, 4096, 32767, 32768, 32769,
	    65536 + 17, 131071, 4000, 100 };

	if (d == 1 && i == 42) {
		return 300000;	/* the sequential path, in the middle */
	}
	return sizes[(size_t)i % (sizeof(sizes) / sizeof(sizes[0]))];
}

static void
put_file(const char *path, size_t n, unsigned int seed, mode_t mode)
{
	unsigned char *p = malloc(n + 1);
	size_t k;
	int fd;

	for (k = 0; k < n; k++) {
		p[k] = (unsigned char)((k * 31 + seed * 7 + (k >> 8)) & 0xff);
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, n), (ssize_t)n);
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
	free(p);
}

/* src/dN/fNNN: NDIRS x PER_DIR files, plus src/top and src/d0/sub/x. */
static void
make_tree(void)
{
	char path[64];
	int d, i;

	assert_int_equal(mkdir("src", 0755), 0);
	put_file("src/top", 10, 1, 0644);
	for (d = 0; d < NDIRS; d++) {
		snprintf(path, sizeof(path), "src/d%d", d);
		assert_int_equal(mkdir(path, 0755), 0);
		for (i = 0; i < PER_DIR; i++) {
			snprintf(path, sizeof(path), "src/d%d/f%03d", d, i);
			put_file(path, size_of(d, i), (unsigned int)(d * 1000 +
			    i), 0644);
		}
	}
	assert_int_equal(mkdir("src/d0/sub", 0705), 0);
	put_file("src/d0/sub/x", 5000, 9, 0604);
}

/* Whole file into a new buffer (*n its size), NULL when missing. */
static unsigned char *
get_file(const char *path, size_t *n)
{
	struct stat st;
	unsigned char *p;
	int fd = open(path, O_RDONLY);

	if (fd < 0) {
		return NULL;
	}
	assert_int_equal(fstat(fd, &st), 0);
	p = malloc((size_t)st.st_size + 1);
	assert_int_equal(read(fd, p, (size_t)st.st_size), st.st_size);
	*n = (size_t)st.st_size;
	close(fd);
	return p;
}

static int
same_file(const char *a, const char *b)
{
	unsigned char *pa, *pb;
	size_t na = 0, nb = 0;
	int same;

	pa = get_file(a, &na);
	pb = get_file(b, &nb);
	same = pa != NULL && pb != NULL && na == nb &&
	    memcmp(pa, pb, na) == 0;
	free(pa);
	free(pb);
	return same;
}

static int
exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Every file of the tree under `dst` except those listed in `skip`. */
static void
check_tree(const char *dst, const char *const *skip)
{
	char a[128], b[128];
	const char *const *k;
	int d, i, skipped;

	for (d = 0; d < NDIRS; d++) {
		for (i = 0; i < PER_DIR; i++) {
			snprintf(a, sizeof(a), "src/d%d/f%03d", d, i);
			snprintf(b, sizeof(b), "%s/d%d/f%03d", dst, d, i);
			skipped = 0;
			for (k = skip; k != NULL && *k != NULL; k++) {
				if (strcmp(*k, a) == 0) {
					skipped = 1;
				}
			}
			if (skipped) {
				if (exists(b)) {
					fail_msg("%s should be missing", b);
				}
				continue;
			}
			if (!same_file(a, b)) {
				fail_msg("%s differs from %s", b, a);
			}
		}
	}
	snprintf(b, sizeof(b), "%s/d0/sub/x", dst);
	assert_true(same_file("src/d0/sub/x", b));
}

/* No temporary name left anywhere under `dst`. */
static void
no_partials(const char *dst)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "test -z \"$(find '%s' -name "
	    "'*.scp-part')\"", dst);
	assert_int_equal(system(cmd), 0);
}

/* Runs sftp_download with stderr captured into `err`. */
static int
download_capture(struct env *e, const char *src, const char *dst,
    char *err, size_t errlen)
{
	int fd, saved, r;
	ssize_t n;

	fd = open("stderr.txt", O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	saved = dup(2);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, 2), 2);
	r = sftp_download(e->s, src, dst);
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
	n = pread(fd, err, errlen - 1, 0);
	close(fd);
	err[n > 0 ? n : 0] = '\0';
	unlink("stderr.txt");
	return r;
}

static void
test_tree(void **state)
{
	struct env *e = *state;
	char err[4096];
	struct stat st;

	make_tree();
	start(e);
	assert_int_equal(mkdir("dst", 0755), 0);
	assert_int_equal(download_capture(e, "src", "dst", err,
	    sizeof(err)), 0);
	assert_string_equal(err, "");
	check_tree("dst/src", NULL);
	assert_true(same_file("src/top", "dst/src/top"));
	no_partials("dst");
	/* Modes of new files and directories (umask 022). */
	assert_int_equal(stat("dst/src/d0/sub", &st), 0);
	assert_int_equal(st.st_mode & 07777, 0705);
	assert_int_equal(stat("dst/src/d0/sub/x", &st), 0);
	assert_int_equal(st.st_mode & 07777, 0604);
	/* Again over the copy: files are replaced whole. */
	assert_int_equal(download_capture(e, "src", "dst", err,
	    sizeof(err)), 0);
	check_tree("dst/src", NULL);
	no_partials("dst");
}

static void
test_small_window(void **state)
{
	struct env *e = *state;
	char err[4096];

	/* One request in flight, small blocks: the same bytes arrive. */
	e->o.nrequests = 1;
	e->o.buffer_len = 4096;
	make_tree();
	start(e);
	assert_int_equal(download_capture(e, "src", "out", err,
	    sizeof(err)), 0);
	assert_string_equal(err, "");
	check_tree("out", NULL);
	no_partials("out");
}

static void
test_glob(void **state)
{
	struct env *e = *state;
	char a[64], b[64], err[4096];
	int i;

	make_tree();
	start(e);
	assert_int_equal(mkdir("g", 0755), 0);
	/* 100 matches of one operand, among them the big file. */
	assert_int_equal(download_capture(e, "src/d1/f*", "g", err,
	    sizeof(err)), 0);
	assert_string_equal(err, "");
	for (i = 0; i < PER_DIR; i++) {
		snprintf(a, sizeof(a), "src/d1/f%03d", i);
		snprintf(b, sizeof(b), "g/f%03d", i);
		if (!same_file(a, b)) {
			fail_msg("%s differs", b);
		}
	}
	no_partials("g");
	/* Matches naming a missing file and a directory (no -r here). */
	e->o.recursive = 0;
	assert_int_equal(download_capture(e, "src/d2/f00?", "g", err,
	    sizeof(err)), 0);
	assert_int_equal(download_capture(e, "src/d*", "g", err,
	    sizeof(err)), 1);
	assert_non_null(strstr(err, "download src/d0/: not a regular file"));
	assert_non_null(strstr(err, "download src/d2/: not a regular file"));
}

static void
test_errors_in_order(void **state)
{
	struct env *e = *state;
	static const char *const skip[] = { "src/d0/f050", "src/d2/f010",
	    NULL };
	char err[4096];
	const char *p1, *p2, *p3, *p4;

	make_tree();
	/* Unreadable to the server (nobody, or us when not root). */
	assert_int_equal(chmod("src/d0/f050", 0), 0);
	assert_int_equal(chmod("src/d2/f010", 0), 0);
	/* A dangling symlink between them, in d1. */
	assert_int_equal(symlink("nowhere", "src/d1/link"), 0);
	start(e);
	assert_int_equal(download_capture(e, "src", "out", err,
	    sizeof(err)), 1);
	/*
	 * Each failure named, and in walk order: d0, d1, d2 (remote paths
	 * are canonical: absolute).
	 */
	p1 = strstr(err, "/src/d0/f050\": Permission denied\nscp: "
	    "Download of file ");
	p2 = strstr(err, "scp: stat remote: No such file or directory\n"
	    "scp: Download of file ");
	p3 = strstr(err, "/src/d1/link to out/d1/link failed\nscp: "
	    "remote open \"");
	p4 = strstr(err, "/src/d2/f010 to out/d2/f010 failed\n");
	if (p1 == NULL || p2 == NULL || p3 == NULL || p4 == NULL ||
	    !(p1 < p2 && p2 < p3 && p3 < p4)) {
		fail_msg("unexpected messages:\n%s", err);
	}
	/* Everything else arrived, the failed ones left nothing. */
	check_tree("out", skip);
	assert_false(exists("out/d1/link"));
	no_partials("out");
}

/*
 * One directory of 750 files (several READDIR replies, with READDIRs
 * kept in flight ahead of them) beside a few at the top: every name
 * arrives once, byte-identical.
 */
static void
test_big_listing(void **state)
{
	struct env *e = *state;
	char a[64], b[64], err[4096];
	int i;

	assert_int_equal(mkdir("big", 0755), 0);
	assert_int_equal(mkdir("big/many", 0755), 0);
	put_file("big/a", 3, 1, 0644);
	put_file("big/z", 70000, 2, 0644);
	for (i = 0; i < 750; i++) {
		snprintf(a, sizeof(a), "big/many/n%04d", i);
		put_file(a, (size_t)(i % 7) * 100, (unsigned int)i, 0644);
	}
	start(e);
	assert_int_equal(download_capture(e, "big", "out", err,
	    sizeof(err)), 0);
	assert_string_equal(err, "");
	for (i = 0; i < 750; i++) {
		snprintf(a, sizeof(a), "big/many/n%04d", i);
		snprintf(b, sizeof(b), "out/many/n%04d", i);
		if (!same_file(a, b)) {
			fail_msg("%s differs", b);
		}
	}
	assert_true(same_file("big/a", "out/a"));
	assert_true(same_file("big/z", "out/z"));
	assert_int_equal(system("test $(ls out/many | wc -l) -eq 750"), 0);
	no_partials("out");
}

/*
 * Plain operands (no pattern): their STAT, REALPATH and OPENDIR travel
 * with the LSTAT (sftp_glob_source_pre) and the engine takes them: a
 * file, a big file, "dir/." named after its REALPATH, a symlink to a
 * directory, a missing name, a directory without -r, an unreadable
 * directory and a target that cannot be made (the handle opened ahead
 * is closed, the session stays in step for the next operand).
 */
static void
test_plain_operands(void **state)
{
	struct env *e = *state;
	char err[4096];

	make_tree();
	assert_int_equal(symlink("src/d2", "lnk"), 0);
	assert_int_equal(mkdir("locked", 0755), 0);
	put_file("locked/x", 10, 3, 0644);
	assert_int_equal(chmod("locked", 0311), 0);
	start(e);
	assert_int_equal(mkdir("t", 0755), 0);
	assert_int_equal(download_capture(e, "src/top", "t", err,
	    sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_true(same_file("src/top", "t/top"));
	assert_int_equal(download_capture(e, "src/d1/f042", "t/big", err,
	    sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_true(same_file("src/d1/f042", "t/big"));
	/* "src/." is copied into "t" itself, as OpenSSH and cp -r do. */
	assert_int_equal(download_capture(e, "src/.", "t", err,
	    sizeof(err)), 0);
	assert_string_equal(err, "");
	check_tree("t", NULL);
	assert_int_equal(download_capture(e, "lnk", "t", err,
	    sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_true(same_file("src/d2/f005", "t/lnk/f005"));
	assert_int_equal(download_capture(e, "nope", "t", err,
	    sizeof(err)), 1);
	assert_string_equal(err, "scp: nope: No such file or directory\n");
	assert_int_equal(download_capture(e, "locked", "t", err,
	    sizeof(err)), 1);
	if (geteuid() == 0 || access("locked", R_OK) != 0) {
		assert_non_null(strstr(err, "/locked\" failed\n"));
		assert_non_null(strstr(err, "remote readdir \""));
	}
	assert_int_equal(download_capture(e, "src/d0", "no/such/dir", err,
	    sizeof(err)), 1);
	assert_string_equal(err, "scp: mkdir no/such/dir: No such file or "
	    "directory\n");
	e->o.recursive = 0;
	assert_int_equal(download_capture(e, "src/d0", "t", err,
	    sizeof(err)), 1);
	assert_string_equal(err, "scp: download src/d0/: not a regular "
	    "file\n");
	/* Still in step after all that. */
	assert_int_equal(download_capture(e, "src/d0/f001", "t/last", err,
	    sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_true(same_file("src/d0/f001", "t/last"));
	assert_int_equal(chmod("locked", 0755), 0);
}

/*
 * Patterns: the matches' attributes come from the listings (no STAT per
 * match) and the last listing's CLOSE is collected with the engine's
 * first replies.  Several listings ("src/d*" then each dN), symlinks to
 * a file and to nowhere, an unreadable file among the matches: each
 * named in order, the rest byte-identical, the session still in step.
 */
static void
test_glob_attrs(void **state)
{
	struct env *e = *state;
	char a[64], b[64], err[4096];
	const char *p1, *p2;
	int d, i;

	make_tree();
	assert_int_equal(symlink("f003", "src/d1/f00l"), 0);
	assert_int_equal(symlink("nowhere", "src/d1/f00m"), 0);
	assert_int_equal(chmod("src/d2/f001", 0), 0);
	start(e);
	assert_int_equal(mkdir("g", 0755), 0);
	assert_int_equal(download_capture(e, "src/d*/f00?", "g", err,
	    sizeof(err)), 1);
	p1 = strstr(err, "scp: stat remote: No such file or directory\n");
	p2 = strstr(err, "remote open \"src/d2/f001\": Permission denied\n");
	if (p1 == NULL || p2 == NULL || p1 > p2) {
		fail_msg("unexpected messages:\n%s", err);
	}
	/* d0 f000..f009 overwritten by d1's, then d2's (but f001). */
	for (i = 0; i < 10; i++) {
		d = i == 1 ? 1 : 2;
		snprintf(a, sizeof(a), "src/d%d/f%03d", d, i);
		snprintf(b, sizeof(b), "g/f%03d", i);
		if (!same_file(a, b)) {
			fail_msg("%s differs from %s", b, a);
		}
	}
	assert_true(same_file("src/d1/f003", "g/f00l"));
	assert_false(exists("g/f00m"));
	no_partials("g");
	assert_int_equal(download_capture(e, "src/d0/f01[0-2]", "g", err,
	    sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_true(same_file("src/d0/f012", "g/f012"));
	assert_int_equal(chmod("src/d2/f001", 0644), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_small_window, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_glob, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors_in_order, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_big_listing, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_plain_operands, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_glob_attrs, setup,
		    teardown),
	};

	if (access(SERVER, X_OK) != 0) {
		printf("skipping: no %s\n", SERVER);
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
