/*
 * End-to-end tests of SFTP mode (PROTOCOL.md section 4) against OpenSSH's
 * own sftp-server, run as a child over a socketpair in a temporary
 * directory (its cwd, so relative remote paths land there too).
 * Also the OpenSSH 9.2 weaknesses of section 6, each fixed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "fs/outfile.h"
#include "proto/sftp/sftp_int.h"
#include "xfer/transfer.h"
#include "transport/io.h"
#include "transport/ssh_child.h"
#include "util/err.h"
#include "util/log.h"
#include "xfer/xfer.h"

#include "sftp_harness.h"

struct env {
	struct harness_dir h;
	struct ssh_child c1, c2;
	struct sftp_session *s1, *s2;
	struct sftp_opts o;
};

static int
setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	if (e == NULL || harness_dir_enter(&e->h, "sftpe2e", LOG_ERROR) != 0) {
		free(e);
		return -1;
	}
	e->c1.pid = e->c2.pid = -1;
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

static mode_t
mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static void
test_file_roundtrip(void **state)
{
	struct env *e = *state;

	harness_server_start(&e->c1, &e->s1, &e->o);
	harness_put_str("src.txt", "hello sftp\n");
	assert_int_equal(sftp_upload(e->s1, "src.txt", "up.txt", 0), 0);
	harness_assert_file("up.txt", "hello sftp\n");
	assert_false(harness_exists(".up.txt.scp-part"));
	assert_int_equal(sftp_download(e->s1, "up.txt", "down.txt"), 0);
	harness_assert_file("down.txt", "hello sftp\n");
	/* Into directories. */
	assert_int_equal(mkdir("d", 0755), 0);
	assert_int_equal(sftp_upload(e->s1, "src.txt", "d", 0), 0);
	harness_assert_file("d/src.txt", "hello sftp\n");
	assert_int_equal(mkdir("e", 0755), 0);
	assert_int_equal(sftp_download(e->s1, "d/src.txt", "e"), 0);
	harness_assert_file("e/src.txt", "hello sftp\n");
	/* Overwrite a longer file: no stale tail. */
	harness_put_str("long.txt", "0123456789012345678901234567890\n");
	assert_int_equal(sftp_upload(e->s1, "src.txt", "long.txt", 0), 0);
	harness_assert_file("long.txt", "hello sftp\n");
}

static void
test_empty_file(void **state)
{
	struct env *e = *state;

	harness_server_start(&e->c1, &e->s1, &e->o);
	harness_put_str("empty", "");
	assert_int_equal(sftp_upload(e->s1, "empty", "empty.up", 0), 0);
	harness_assert_file("empty.up", "");
	assert_int_equal(sftp_download(e->s1, "empty.up", "empty.down"), 0);
	harness_assert_file("empty.down", "");
}

static void
test_big_file(void **state)
{
	struct env *e = *state;
	size_t n = 20 * 1024 * 1024 + 12345, i, got;
	unsigned char *p = malloc(n);
	char *q;
	uint32_t x = 12345;

	for (i = 0; i < n; i++) {
		x = x * 1103515245 + 12345;
		p[i] = (unsigned char)(x >> 16);
	}
	harness_put("big", p, n, 0600);
	harness_server_start(&e->c1, &e->s1, &e->o);
	assert_int_equal(sftp_upload(e->s1, "big", "big.up", 0), 0);
	q = harness_get("big.up", &got);
	assert_non_null(q);
	assert_int_equal(got, n);
	assert_memory_equal(p, q, n);
	free(q);
	assert_int_equal(mode_of("big.up"), 0600);
	assert_int_equal(sftp_download(e->s1, "big.up", "big.down"), 0);
	q = harness_get("big.down", &got);
	assert_non_null(q);
	assert_int_equal(got, n);
	assert_memory_equal(p, q, n);
	free(q);
	free(p);
}

static void
set_mtime(const char *path, time_t t)
{
	struct timeval tv[2];

	tv[0].tv_sec = t - 100;
	tv[0].tv_usec = 0;
	tv[1].tv_sec = t;
	tv[1].tv_usec = 0;
	assert_int_equal(utimes(path, tv), 0);
}

static time_t
mtime_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mtime;
}

static void
make_tree(void)
{
	assert_int_equal(mkdir("src", 0755), 0);
	assert_int_equal(mkdir("src/sub", 0755), 0);
	assert_int_equal(mkdir("src/sub/deep", 0755), 0);
	harness_put_str("src/a", "A\n");
	harness_put("src/sub/b", "BB\n", 3, 0640);
	harness_put_str("src/sub/deep/c", "");
	assert_int_equal(chmod("src/sub", 0751), 0);
	set_mtime("src/sub/b", 1000000000);
	set_mtime("src/sub", 1100000000);
}

static void
test_tree_rp(void **state)
{
	struct env *e = *state;

	e->o.recursive = e->o.preserve = 1;
	harness_server_start(&e->c1, &e->s1, &e->o);
	make_tree();
	assert_int_equal(mkdir("dst", 0755), 0);
	assert_int_equal(sftp_upload(e->s1, "src", "dst", 0), 0);
	harness_assert_file("dst/src/a", "A\n");
	harness_assert_file("dst/src/sub/b", "BB\n");
	harness_assert_file("dst/src/sub/deep/c", "");
	assert_int_equal(mode_of("dst/src/sub/b"), 0640);
	assert_int_equal(mode_of("dst/src/sub"), 0751);
	assert_int_equal(mtime_of("dst/src/sub/b"), 1000000000);
	assert_int_equal(mtime_of("dst/src/sub"), 1100000000);

	assert_int_equal(sftp_download(e->s1, "dst/src", "back"), 0);
	harness_assert_file("back/a", "A\n");
	harness_assert_file("back/sub/b", "BB\n");
	harness_assert_file("back/sub/deep/c", "");
	assert_int_equal(mode_of("back/sub/b"), 0640);
	assert_int_equal(mode_of("back/sub"), 0751);
	assert_int_equal(mtime_of("back/sub/b"), 1000000000);
	assert_int_equal(mtime_of("back/sub"), 1100000000);
}

static void
test_dir_without_r(void **state)
{
	struct env *e = *state;

	harness_server_start(&e->c1, &e->s1, &e->o);
	make_tree();
	assert_int_equal(mkdir("dst", 0755), 0);
	assert_int_equal(sftp_upload(e->s1, "src", "dst", 0), 1);
	assert_false(harness_exists("dst/src"));
	assert_int_equal(sftp_download(e->s1, "src", "dst"), 1);
	assert_false(harness_exists("dst/src"));
}

static void
test_glob_download(void **state)
{
	struct env *e = *state;

	harness_server_start(&e->c1, &e->s1, &e->o);
	assert_int_equal(mkdir("g", 0755), 0);
	harness_put_str("g/a.txt", "a");
	harness_put_str("g/b.txt", "b");
	harness_put_str("g/c.log", "c");
	harness_put_str("g/.hidden.txt", "h");
	harness_put_str("g/x[1]", "lit");
	assert_int_equal(sftp_download(e->s1, "g/*.txt", "out"), 0);
	harness_assert_file("out/a.txt", "a");
	harness_assert_file("out/b.txt", "b");
	assert_false(harness_exists("out/c.log"));
	assert_false(harness_exists("out/.hidden.txt"));
	assert_int_equal(sftp_download(e->s1, "g/[!a].txt", "one"), 0);
	harness_assert_file("one", "b");
	assert_int_equal(sftp_download(e->s1, "g/?.l*", "two"), 0);
	harness_assert_file("two", "c");
	/* A literal name that looks like a pattern (NOCHECK + STAT). */
	assert_int_equal(sftp_download(e->s1, "g/x[1]", "three"), 0);
	harness_assert_file("three", "lit");
	assert_int_equal(sftp_download(e->s1, "g/x\\[1\\]", "four"), 0);
	harness_assert_file("four", "lit");
	assert_int_equal(sftp_download(e->s1, "g/*.zzz", "none"), 1);
	assert_false(harness_exists("none"));
	/* No brace expansion in SFTP mode (obs). */
	assert_int_equal(sftp_download(e->s1, "g/{a,b}.txt", "br"), 1);
	/* Several matches, destination an existing file. */
	harness_put_str("plain", "p");
	assert_int_equal(sftp_download(e->s1, "g/*.txt", "plain"), 1);
	harness_assert_file("plain", "p");
	/* ~ paths: "~/x" is relative to the server's cwd here. */
	assert_int_equal(sftp_download(e->s1, "~/g/a.txt", "tilde"), 0);
	harness_assert_file("tilde", "a");
	assert_int_equal(sftp_download(e->s1, "~nosuchuser12/x", "nu"), 1);
}

static void
test_crossload(void **state)
{
	struct env *e = *state;

	e->o.recursive = 1;
	harness_server_start(&e->c1, &e->s1, &e->o);
	harness_server_start(&e->c2, &e->s2, &e->o);
	harness_put_str("x", "cross\n");
	assert_int_equal(xfer_relay(e->s1, "x", e->s2, "y", 0), 0);
	harness_assert_file("y", "cross\n");
	make_tree();
	assert_int_equal(mkdir("dst", 0755), 0);
	assert_int_equal(xfer_relay(e->s1, "src", e->s2, "dst", 0), 0);
	harness_assert_file("dst/src/a", "A\n");
	harness_assert_file("dst/src/sub/b", "BB\n");
	harness_assert_file("dst/src/sub/deep/c", "");
	assert_int_equal(xfer_relay(e->s1, "nope", e->s2, "dst", 0), 1);
}

static void
test_missing(void **state)
{
	struct env *e = *state;

	harness_server_start(&e->c1, &e->s1, &e->o);
	/* One file's failure, not a fatal one (docs/SAFETY.md). */
	assert_int_equal(sftp_upload(e->s1, "nope", "x", 0), 1);
	assert_int_equal(sftp_download(e->s1, "nope", "x"), 1);
	assert_false(harness_exists("x"));
	harness_put_str("f", "f");
	assert_int_equal(sftp_upload(e->s1, "f", "nodir/x", 0), 1);
	/* The session is still usable. */
	assert_int_equal(sftp_upload(e->s1, "f", "g", 0), 0);
	harness_assert_file("g", "f");
}

static void
test_multiple_mkdir(void **state)
{
	struct env *e = *state;

	harness_server_start(&e->c1, &e->s1, &e->o);
	harness_put_str("f1", "1");
	harness_put_str("f2", "2");
	assert_int_equal(sftp_upload(e->s1, "f1", "newdir", 1), 0);
	assert_int_equal(sftp_upload(e->s1, "f2", "newdir", 1), 0);
	harness_assert_file("newdir/f1", "1");
	harness_assert_file("newdir/f2", "2");
}

static void
test_self_copy(void **state)
{
	struct env *e = *state;

	harness_server_start(&e->c1, &e->s1, &e->o);
	harness_put_str("same", "do not truncate me\n");
	assert_int_equal(sftp_upload(e->s1, "same", "same", 0), 0);
	harness_assert_file("same", "do not truncate me\n");
	assert_int_equal(sftp_download(e->s1, "same", "same"), 0);
	harness_assert_file("same", "do not truncate me\n");
	e->o.inplace = 1;
	assert_int_equal(sftp_upload(e->s1, "same", "same", 0), 0);
	harness_assert_file("same", "do not truncate me\n");
	assert_int_equal(sftp_download(e->s1, "same", "same"), 0);
	harness_assert_file("same", "do not truncate me\n");
}

static void
test_inplace_keeps_mode(void **state)
{
	struct env *e = *state;

	harness_server_start(&e->c1, &e->s1, &e->o);
	harness_put("t", "old contents here\n", 18, 0600);
	harness_put("s", "new\n", 4, 0644);
	assert_int_equal(sftp_upload(e->s1, "s", "t", 0), 0);
	harness_assert_file("t", "new\n");
	assert_int_equal(mode_of("t"), 0600);
	e->o.inplace = 1;
	harness_put("t", "old contents here\n", 18, 0600);
	assert_int_equal(sftp_upload(e->s1, "s", "t", 0), 0);
	harness_assert_file("t", "new\n");
	assert_int_equal(mode_of("t"), 0600);
}

/* Section 6: "-r DIR/sub/.." wrote beside the target in 9.2. */
static void
test_bug_dotdot(void **state)
{
	struct env *e = *state;

	e->o.recursive = 1;
	harness_server_start(&e->c1, &e->s1, &e->o);
	assert_int_equal(mkdir("t", 0755), 0);
	assert_int_equal(mkdir("t/d", 0755), 0);
	assert_int_equal(mkdir("t/d/sub", 0755), 0);
	harness_put_str("t/d/f", "F");
	assert_int_equal(mkdir("w", 0755), 0);
	assert_int_equal(mkdir("w/tgt", 0755), 0);
	/* bz3871 (OpenSSH 10.3): "DIR/sub/.." is copied as ".", into the
	 * target itself, never beside it. */
	assert_int_equal(sftp_upload(e->s1, "t/d/sub/..", "w/tgt", 0), 0);
	harness_assert_file("w/tgt/f", "F");
	assert_true(harness_exists("w/tgt/sub"));
	assert_false(harness_exists("w/tgt/d"));
	assert_false(harness_exists("w/f"));
	assert_false(harness_exists("w/sub"));
	assert_int_equal(mkdir("w/dl", 0755), 0);
	assert_int_equal(sftp_download(e->s1, "t/d/sub/..", "w/dl"), 0);
	harness_assert_file("w/dl/f", "F");
	assert_false(harness_exists("w/dl/d"));
	assert_false(harness_exists("w/f"));
	/* ".*" does not reach "..". */
	assert_int_equal(mkdir("w/dot", 0755), 0);
	harness_put_str("t/d/.dot", "D");
	assert_int_equal(sftp_download(e->s1, "t/d/.*", "w/dot"), 0);
	harness_assert_file("w/dot/.dot", "D");
	assert_false(harness_exists("w/dot/d"));
	assert_false(harness_exists("w/dot/t"));
}

/* Section 6: symlinked directories in -r, with a loop. */
static void
test_bug_symlink_dirs(void **state)
{
	struct env *e = *state;

	e->o.recursive = 1;
	harness_server_start(&e->c1, &e->s1, &e->o);
	assert_int_equal(mkdir("real", 0755), 0);
	harness_put_str("real/file", "R");
	assert_int_equal(mkdir("src", 0755), 0);
	assert_int_equal(symlink("../real", "src/link"), 0);
	assert_int_equal(symlink(".", "src/loop"), 0);
	harness_put_str("src/top", "T");
	assert_int_equal(mkdir("up", 0755), 0);
	assert_int_equal(sftp_upload(e->s1, "src", "up", 0), 0);
	harness_assert_file("up/src/link/file", "R");
	harness_assert_file("up/src/top", "T");
	assert_int_equal(mkdir("down", 0755), 0);
	assert_int_equal(sftp_download(e->s1, "src", "down"), 0);
	harness_assert_file("down/src/link/file", "R");
	harness_assert_file("down/src/top", "T");
}

/* Section 6: -r upload clobbered an existing directory's mode. */
static void
test_bug_existing_dir_mode(void **state)
{
	struct env *e = *state;

	e->o.recursive = 1;
	harness_server_start(&e->c1, &e->s1, &e->o);
	make_tree();
	assert_int_equal(mkdir("dst", 0755), 0);
	assert_int_equal(mkdir("dst/src", 0700), 0);
	assert_int_equal(sftp_upload(e->s1, "src", "dst", 0), 0);
	assert_int_equal(mode_of("dst/src"), 0700);
	assert_int_equal(mode_of("dst/src/sub"), 0751);
}

/* Section 6: -rp download lost umask-masked directory bits. */
static void
test_bug_rp_umask(void **state)
{
	struct env *e = *state;

	e->o.recursive = e->o.preserve = 1;
	harness_server_start(&e->c1, &e->s1, &e->o);
	assert_int_equal(mkdir("wide", 0777), 0);
	assert_int_equal(chmod("wide", 0777), 0);
	harness_put_str("wide/f", "w");
	assert_int_equal(sftp_download(e->s1, "wide", "copy"), 0);
	assert_int_equal(mode_of("copy"), 0777);
	harness_assert_file("copy/f", "w");
}

/* Section 6: a FIFO operand blocked forever. */
static void
test_bug_fifo(void **state)
{
	struct env *e = *state;

	harness_server_start(&e->c1, &e->s1, &e->o);
	assert_int_equal(mkfifo("fifo", 0644), 0);
	alarm(20);
	assert_int_equal(sftp_upload(e->s1, "fifo", "fifo.up", 0), 1);
	e->o.recursive = 1;
	assert_int_equal(mkdir("fd", 0755), 0);
	assert_int_equal(mkfifo("fd/p", 0644), 0);
	harness_put_str("fd/f", "x");
	assert_int_equal(sftp_upload(e->s1, "fd", "fd.up", 0), 0);
	alarm(0);
	harness_assert_file("fd.up/f", "x");
	assert_false(harness_exists("fd.up/p"));
	assert_false(harness_exists("fifo.up"));
}


static void
test_small_blocks(void **state)
{
	struct env *e = *state;
	size_t n = 1000003, i, got;
	unsigned char *p = malloc(n);
	char *q;

	for (i = 0; i < n; i++) {
		p[i] = (unsigned char)(i * 7 + (i >> 9));
	}
	harness_put("mid", p, n, 0644);
	e->o.buffer_len = 1000;
	e->o.nrequests = 3;
	harness_server_start(&e->c1, &e->s1, &e->o);
	assert_int_equal(e->s1->read_len, 1000);
	assert_int_equal(sftp_upload(e->s1, "mid", "mid.up", 0), 0);
	assert_int_equal(sftp_download(e->s1, "mid.up", "mid.down"), 0);
	q = harness_get("mid.down", &got);
	assert_non_null(q);
	assert_int_equal(got, n);
	assert_memory_equal(p, q, n);
	free(q);
	free(p);
}

static void
test_preserve_file(void **state)
{
	struct env *e = *state;

	e->o.preserve = 1;
	harness_server_start(&e->c1, &e->s1, &e->o);
	harness_put("pf", "p", 1, 0604);
	set_mtime("pf", 1200000000);
	assert_int_equal(sftp_upload(e->s1, "pf", "pf.up", 0), 0);
	assert_int_equal(mode_of("pf.up"), 0604);
	assert_int_equal(mtime_of("pf.up"), 1200000000);
	assert_int_equal(sftp_download(e->s1, "pf", "pf.down"), 0);
	assert_int_equal(mode_of("pf.down"), 0604);
	assert_int_equal(mtime_of("pf.down"), 1200000000);
	harness_server_start(&e->c2, &e->s2, &e->o);
	assert_int_equal(xfer_relay(e->s1, "pf", e->s2, "pf.x", 0), 0);
	assert_int_equal(mode_of("pf.x"), 0604);
	assert_int_equal(mtime_of("pf.x"), 1200000000);
}

static void
test_crossload_errors(void **state)
{
	struct env *e = *state;

	harness_server_start(&e->c1, &e->s1, &e->o);
	harness_server_start(&e->c2, &e->s2, &e->o);
	harness_put_str("a1", "1");
	harness_put_str("a2", "2");
	harness_put_str("nd", "x");
	/* Several sources need an existing directory (no MKDIR). */
	assert_int_equal(xfer_relay(e->s1, "a*", e->s2, "nd", 0), 1);
	harness_assert_file("nd", "x");
	assert_int_equal(xfer_relay(e->s1, "a1", e->s2, "nodir", 1), 1);
	assert_false(harness_exists("nodir"));
	assert_int_equal(mkdir("xd", 0755), 0);
	assert_int_equal(xfer_relay(e->s1, "a*", e->s2, "xd", 1), 0);
	harness_assert_file("xd/a1", "1");
	harness_assert_file("xd/a2", "2");
}

/* A symlink planted where a downloaded file goes is replaced, never
 * followed (atomic), or refused (in place). */
static void
test_download_symlink_target(void **state)
{
	struct env *e = *state;

	e->o.recursive = 1;
	harness_server_start(&e->c1, &e->s1, &e->o);
	make_tree();
	harness_put_str("victim", "keep\n");
	assert_int_equal(mkdir("dl", 0755), 0);
	assert_int_equal(mkdir("dl/src", 0755), 0);
	assert_int_equal(symlink("../../victim", "dl/src/a"), 0);
	assert_int_equal(sftp_download(e->s1, "src", "dl"), 0);
	harness_assert_file("victim", "keep\n");
	harness_assert_file("dl/src/a", "A\n");
	assert_int_equal(unlink("dl/src/a"), 0);
	assert_int_equal(symlink("../../victim", "dl/src/a"), 0);
	e->o.inplace = 1;
	assert_int_equal(sftp_download(e->s1, "src", "dl"), 1);
	harness_assert_file("victim", "keep\n");
}

/* Without posix-rename@openssh.com: REMOVE + RENAME. */
static void
test_no_posix_rename(void **state)
{
	struct env *e = *state;

	harness_server_start(&e->c1, &e->s1, &e->o);
	e->s1->exts &= ~SFTP_EXT_POSIX_RENAME;
	harness_put_str("n1", "new\n");
	harness_put_str("n2", "old old old\n");
	assert_int_equal(sftp_upload(e->s1, "n1", "n2", 0), 0);
	harness_assert_file("n2", "new\n");
	assert_int_equal(sftp_upload(e->s1, "n1", "n3", 0), 0);
	harness_assert_file("n3", "new\n");
	assert_false(harness_exists(".n3.scp-part"));
}

/* A name too long for ".<name>.scp-part" is written in place. */
static void
test_long_name(void **state)
{
	struct env *e = *state;
	char name[256];

	memset(name, 'n', 250);
	name[250] = '\0';
	harness_server_start(&e->c1, &e->s1, &e->o);
	harness_put_str("short", "long names work\n");
	assert_int_equal(mkdir("ld", 0755), 0);
	assert_int_equal(chdir("ld"), 0);
	harness_put_str(name, "older and longer contents\n");
	assert_int_equal(chdir(".."), 0);
	assert_int_equal(mkdir("ld2", 0755), 0);
	assert_int_equal(chdir("ld2"), 0);
	harness_put_str(name, "x");
	assert_int_equal(chdir(".."), 0);
	assert_int_equal(sftp_upload(e->s1, "ld2", "ld", 0), 1);
	e->o.recursive = 1;
	assert_int_equal(sftp_upload(e->s1, "ld2", "ld", 0), 0);
	assert_int_equal(chdir("ld/ld2"), 0);
	harness_assert_file(name, "x");
	assert_int_equal(chdir("../.."), 0);
	{
		char path[300];

		snprintf(path, sizeof(path), "ld/%s", name);
		assert_int_equal(sftp_upload(e->s1, "short", path, 0), 0);
		assert_int_equal(chdir("ld"), 0);
		harness_assert_file(name, "long names work\n");
		assert_int_equal(chdir(".."), 0);
	}
}

/* An interrupt leaves no file under the final name. */
static void
test_interrupt(void **state)
{
	static volatile sig_atomic_t flag;
	struct env *e = *state;
	char buf[100000];

	memset(buf, 'i', sizeof(buf));
	harness_put("ifile", buf, sizeof(buf), 0644);
	harness_server_start(&e->c1, &e->s1, &e->o);
	flag = 1;
	io_set_cancel(&flag);
	assert_int_equal(sftp_download(e->s1, "ifile", "i.down"),
	    SCP_E_INTR);
	assert_int_equal(sftp_upload(e->s1, "ifile", "i.up", 0), SCP_E_INTR);
	flag = 0;
	io_set_cancel(NULL);
	assert_false(harness_exists("i.down"));
	assert_false(harness_exists("i.up"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_file_roundtrip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_empty_file, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_big_file, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tree_rp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dir_without_r, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_glob_download, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_crossload, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_multiple_mkdir, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_self_copy, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_inplace_keeps_mode, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bug_dotdot, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bug_symlink_dirs, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bug_existing_dir_mode,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_bug_rp_umask, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bug_fifo, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_small_blocks, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_preserve_file, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_crossload_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_download_symlink_target,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_posix_rename, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_interrupt, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_long_name, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
