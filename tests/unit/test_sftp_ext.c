/*
 * SFTP mode's use of OpenSSH's extensions (PROTOCOL.md section 4,
 * docs/protocol-sftp.md "Extensions used"): --fsync against the real
 * sftp-server, with and without fsync@openssh.com; the statvfs room
 * check against a fake server (STYLE.md pattern 12) that logs the
 * request types it receives.
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs/outfile.h"
#include "proto/sftp/sftp_int.h"
#include "xfer/transfer.h"
#include "transport/io.h"
#include "transport/ssh_child.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"
#include "xfer/xfer.h"

#include "sftp_harness.h"

struct env {
	struct harness_dir h;
	struct ssh_child c;
	struct sftp_session *s;
	struct sftp_opts o;
};

static int
setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	if (e == NULL || harness_dir_enter(&e->h, "sftpext", LOG_ERROR) != 0) {
		free(e);
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

/* --fsync with a server offering fsync@openssh.com: both directions. */
static void
test_fsync_offered(void **state)
{
	struct env *e = *state;

	e->o.fsync = 1;
	start(e);
	assert_true(e->s->exts & SFTP_EXT_FSYNC);
	harness_put_str("src.txt", "synced data\n");
	assert_int_equal(sftp_upload(e->s, "src.txt", "up.txt", 0), 0);
	harness_assert_file("up.txt", "synced data\n");
	assert_false(harness_exists(".up.txt.scp-part"));
	assert_int_equal(sftp_download(e->s, "up.txt", "down.txt"), 0);
	harness_assert_file("down.txt", "synced data\n");
	/* In place too (no temporary name). */
	e->o.inplace = 1;
	assert_int_equal(sftp_upload(e->s, "src.txt", "inpl.txt", 0), 0);
	harness_assert_file("inpl.txt", "synced data\n");
	assert_int_equal(sftp_download(e->s, "inpl.txt", "inpl2.txt"), 0);
	harness_assert_file("inpl2.txt", "synced data\n");
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
	harness_put_str("a", "one\n");
	harness_put_str("b", "two\n");
	assert_int_equal(sftp_upload(e->s, "a", "a.up", 0), 0);
	assert_true(e->s->fsync_warned);
	assert_int_equal(sftp_upload(e->s, "b", "b.up", 0), 0);
	harness_assert_file("a.up", "one\n");
	harness_assert_file("b.up", "two\n");
	assert_int_equal(sftp_download(e->s, "b.up", "b.down"), 0);
	harness_assert_file("b.down", "two\n");
}

/* -3 through rfile_finish with --fsync. */
static void
test_fsync_crossload(void **state)
{
	struct env *e = *state;
	struct ssh_child c2;
	struct sftp_session *s2 = NULL;

	e->o.fsync = 1;
	start(e);
	harness_server_start(&c2, &s2, &e->o);
	harness_put_str("x", "relayed\n");
	assert_int_equal(xfer_relay(e->s, "x", s2, "y", 0), 0);
	harness_assert_file("y", "relayed\n");
	harness_server_stop(&c2, &s2);
}

/* copy-data: one session as both ends of -3; and without it (relay). */
static void
test_copy_data_same_session(void **state)
{
	struct env *e = *state;
	char big[70000];
	int fd;

	start(e);
	assert_true(sftp_can_copy_data(e->s));
	memset(big, 'q', sizeof(big));
	fd = open("big", O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, big, sizeof(big)), (ssize_t)sizeof(big));
	close(fd);
	harness_put_str("x", "copied by the server\n");
	assert_int_equal(xfer_relay(e->s, "x", e->s, "y", 0), 0);
	harness_assert_file("y", "copied by the server\n");
	assert_false(harness_exists(".y.scp-part"));
	assert_int_equal(xfer_relay(e->s, "big", e->s, "big2", 0), 0);
	assert_int_equal(system("cmp -s big big2"), 0);
	/* The same through one session without the extension: relayed. */
	e->s->exts &= ~SFTP_EXT_COPY_DATA;
	assert_int_equal(xfer_relay(e->s, "big", e->s, "big3", 0), 0);
	assert_int_equal(system("cmp -s big big3"), 0);
}

/* ---- statvfs@openssh.com against a fake server ---- */

enum vfs_mode {
	VFS_SMALL,	/* 4096 bytes available */
	VFS_REFUSE,	/* statvfs answered with FAILURE */
	VFS_ABSENT,	/* extension not offered */
	VFS_SHORT,	/* malformed (short) EXTENDED_REPLY */
	VFS_PSEUDO,	/* f_blocks 0, as /proc says */
};

/* Request log letters the fake writes to its pipe. */
#define LOG_STATVFS	'V'

/*
 * Nothing exists but what we create; OPEN/WRITE/CLOSE/MKDIR succeed.
 * Every request's type byte (LOG_STATVFS for statvfs) goes to `logfd`.
 */
static void
fake_vfs_server(int fd, int logfd, enum vfs_mode mode)
{
	struct buf *in = NULL, *b = buf_new(SFTP_MSG_CAP);
	const uint8_t *p;
	uint8_t type, mark;
	uint32_t id;
	size_t plen;
	int i;

	if (sftp_msg_read(fd, &in) != 0) {
		_exit(0);
	}
	buf_free(in);
	buf_put_u8(b, SSH2_FXP_VERSION);
	buf_put_u32(b, 3);
	buf_put_cstring(b, "posix-rename@openssh.com");
	buf_put_cstring(b, "1");
	if (mode != VFS_ABSENT) {
		buf_put_cstring(b, "statvfs@openssh.com");
		buf_put_cstring(b, "2");
	}
	harness_fake_send(fd, b);
	for (;;) {
		if (sftp_msg_read(fd, &in) != 0) {
			_exit(0);
		}
		buf_get_u8(in, &type);
		buf_get_u32(in, &id);
		p = NULL;
		plen = 0;
		buf_get_string_direct(in, &p, &plen);
		mark = type;
		if (type == SSH2_FXP_EXTENDED && plen == 19 &&
		    memcmp(p, "statvfs@openssh.com", 19) == 0) {
			mark = LOG_STATVFS;
		}
		if (write(logfd, &mark, 1) != 1) {
			_exit(0);
		}
		switch (mark) {
		case LOG_STATVFS:
			if (mode == VFS_REFUSE) {
				harness_fake_status(fd, b, id, SSH2_FX_FAILURE);
				break;
			}
			buf_put_u8(b, SSH2_FXP_EXTENDED_REPLY);
			buf_put_u32(b, id);
			/* bsize frsize blocks bfree bavail ... */
			for (i = 0; i < (mode == VFS_SHORT ? 3 : 11); i++) {
				buf_put_u64(b, i == 1 ? 4096 :
				    mode == VFS_PSEUDO ? 0 : 1);
			}
			harness_fake_send(fd, b);
			break;
		case SSH2_FXP_STAT:
		case SSH2_FXP_LSTAT:
		case SSH2_FXP_OPENDIR:
			harness_fake_status(fd, b, id, SSH2_FX_NO_SUCH_FILE);
			break;
		case SSH2_FXP_REALPATH:
			buf_put_u8(b, SSH2_FXP_NAME);
			buf_put_u32(b, id);
			buf_put_u32(b, 1);
			buf_put_string(b, p, plen);
			buf_put_cstring(b, "");
			buf_put_u32(b, 0);
			harness_fake_send(fd, b);
			break;
		case SSH2_FXP_OPEN:
			buf_put_u8(b, SSH2_FXP_HANDLE);
			buf_put_u32(b, id);
			buf_put_string(b, "F", 1);
			harness_fake_send(fd, b);
			break;
		default:
			harness_fake_status(fd, b, id, SSH2_FX_OK);
			break;
		}
		buf_free(in);
	}
}

struct vfs_env {
	struct harness_fake f;
	int logfd;
	struct sftp_session *s;
	struct sftp_opts o;
	char log[256];
	size_t nlog;
};

/* What the forked fake needs: its log pipe's write end and its mode. */
struct vfs_arg {
	int logfd;
	enum vfs_mode mode;
};

static void
vfs_serve(int fd, void *arg)
{
	const struct vfs_arg *va = arg;

	/* Its "Connection closed" at the end is expected. */
	log_init("fake", LOG_QUIET, 0);
	fake_vfs_server(fd, va->logfd, va->mode);
}

static void
vfs_start(struct vfs_env *v, enum vfs_mode mode)
{
	struct vfs_arg va;
	int lp[2];

	assert_int_equal(pipe(lp), 0);
	va.logfd = lp[1];
	va.mode = mode;
	harness_fake_fork(&v->f, vfs_serve, &va);
	/* Only the fake writes: the log ends when it exits. */
	close(lp[1]);
	v->logfd = lp[0];
	assert_int_equal(sftp_session_open(&v->s, v->f.fd, v->f.fd, &v->o),
	    0);
}

/* Ends the session and collects the fake's request log. */
static void
vfs_stop(struct vfs_env *v)
{
	ssize_t n;

	sftp_session_free(v->s);
	/* The fake exits at EOF; its log is small enough for the pipe. */
	harness_fake_stop(&v->f, 0);
	v->nlog = 0;
	while ((n = read(v->logfd, v->log + v->nlog,
	    sizeof(v->log) - 1 - v->nlog)) > 0) {
		v->nlog += (size_t)n;
	}
	v->log[v->nlog] = '\0';
	close(v->logfd);
}

static size_t
count(const struct vfs_env *v, char c)
{
	size_t i, n = 0;

	for (i = 0; i < v->nlog; i++) {
		n += v->log[i] == c;
	}
	return n;
}

static void
put_size(const char *path, size_t n)
{
	char *p = calloc(1, n + 1);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(p != NULL && fd >= 0);
	assert_int_equal(write(fd, p, n), (ssize_t)n);
	close(fd);
	free(p);
}

/* Too little room: the file fails before any OPEN or WRITE. */
static void
test_statvfs_small(void **state)
{
	struct vfs_env v;

	(void)state;
	memset(&v, 0, sizeof(v));
	put_size("big", 10000);
	vfs_start(&v, VFS_SMALL);
	assert_int_equal(sftp_upload(v.s, "big", "dir/big.up", 0), 1);
	assert_false(v.s->dead);
	vfs_stop(&v);
	assert_int_equal(count(&v, LOG_STATVFS), 1);
	assert_int_equal(count(&v, SSH2_FXP_OPEN), 0);
	assert_int_equal(count(&v, SSH2_FXP_WRITE), 0);
}

/* One STATVFS per directory per operand; what fits is still sent. */
static void
test_statvfs_once_per_dir(void **state)
{
	struct vfs_env v;

	(void)state;
	memset(&v, 0, sizeof(v));
	assert_int_equal(mkdir("tree", 0755), 0);
	put_size("tree/a-big", 10000);
	put_size("tree/b-small", 100);
	put_size("tree/c-big", 20000);
	put_size("small", 100);
	v.o.recursive = 1;
	vfs_start(&v, VFS_SMALL);
	assert_int_equal(sftp_upload(v.s, "tree", "t", 0), 1);
	assert_int_equal(sftp_upload(v.s, "small", "small.up", 0), 0);
	vfs_stop(&v);
	/*
	 * tree: one for t/, and one for t/tree, the guess sent with the
	 * STAT of t before we knew t is no directory (upload_spec);
	 * small: one more (a new operand).  Never one per file.  The
	 * speculative walk into t/.tree.scp-dir sent its three OPENs
	 * (refused: t does not exist), which wrote nothing.
	 */
	assert_int_equal(count(&v, LOG_STATVFS), 3);
	assert_int_equal(count(&v, SSH2_FXP_OPEN), 2 + 3);
	assert_int_equal(count(&v, SSH2_FXP_WRITE), 2);
}

/* Refused, absent: no check, the upload goes ahead. */
static void
test_statvfs_no_answer(void **state)
{
	struct vfs_env v;

	(void)state;
	memset(&v, 0, sizeof(v));
	put_size("big", 10000);
	vfs_start(&v, VFS_REFUSE);
	assert_int_equal(sftp_upload(v.s, "big", "big.up", 0), 0);
	vfs_stop(&v);
	assert_int_equal(count(&v, LOG_STATVFS), 1);
	assert_int_equal(count(&v, SSH2_FXP_OPEN), 1);

	memset(&v, 0, sizeof(v));
	vfs_start(&v, VFS_ABSENT);
	assert_int_equal(sftp_upload(v.s, "big", "big.up", 0), 0);
	vfs_stop(&v);
	assert_int_equal(count(&v, LOG_STATVFS), 0);
	assert_int_equal(count(&v, SSH2_FXP_OPEN), 1);

	/* A pseudo filesystem keeps no counts: no check. */
	memset(&v, 0, sizeof(v));
	vfs_start(&v, VFS_PSEUDO);
	assert_int_equal(sftp_upload(v.s, "big", "big.up", 0), 0);
	vfs_stop(&v);
	assert_int_equal(count(&v, LOG_STATVFS), 1);
	assert_int_equal(count(&v, SSH2_FXP_OPEN), 1);

	/* --inplace: the existing blocks are reused, no check. */
	memset(&v, 0, sizeof(v));
	v.o.inplace = 1;
	vfs_start(&v, VFS_SMALL);
	assert_int_equal(sftp_upload(v.s, "big", "big.up", 0), 0);
	vfs_stop(&v);
	assert_int_equal(count(&v, LOG_STATVFS), 0);
}

/* A malformed reply is a protocol error: session dead, nothing sent. */
static void
test_statvfs_malformed(void **state)
{
	struct vfs_env v;

	(void)state;
	memset(&v, 0, sizeof(v));
	put_size("big", 10000);
	vfs_start(&v, VFS_SHORT);
	assert_true(sftp_upload(v.s, "big", "big.up", 0) < 0);
	assert_true(v.s->dead);
	vfs_stop(&v);
	assert_int_equal(count(&v, SSH2_FXP_OPEN), 0);
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
		cmocka_unit_test_setup_teardown(test_copy_data_same_session,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_statvfs_small, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_statvfs_once_per_dir,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_statvfs_no_answer, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_statvfs_malformed, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
