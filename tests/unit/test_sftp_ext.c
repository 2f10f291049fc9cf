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
#include "transport/io.h"
#include "transport/ssh_child.h"
#include "util/buf.h"
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
	put_str("x", "copied by the server\n");
	assert_int_equal(sftp_crossload(e->s, "x", e->s, "y", 0), 0);
	assert_file("y", "copied by the server\n");
	assert_false(exists(".y.scp-part"));
	assert_int_equal(sftp_crossload(e->s, "big", e->s, "big2", 0), 0);
	assert_int_equal(system("cmp -s big big2"), 0);
	/* The same through one session without the extension: relayed. */
	e->s->exts &= ~SFTP_EXT_COPY_DATA;
	assert_int_equal(sftp_crossload(e->s, "big", e->s, "big3", 0), 0);
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

static void
fake_send(int fd, struct buf *b)
{
	uint8_t len[4];
	size_t n = buf_len(b);

	len[0] = (uint8_t)(n >> 24);
	len[1] = (uint8_t)(n >> 16);
	len[2] = (uint8_t)(n >> 8);
	len[3] = (uint8_t)n;
	if (io_write_full(fd, len, 4) != 0 ||
	    io_write_full(fd, buf_ptr(b), n) != 0) {
		_exit(0);
	}
	buf_reset(b);
}

static void
fake_status(int fd, struct buf *b, uint32_t id, uint32_t code)
{
	buf_put_u8(b, SSH2_FXP_STATUS);
	buf_put_u32(b, id);
	buf_put_u32(b, code);
	buf_put_cstring(b, "");
	buf_put_cstring(b, "");
	fake_send(fd, b);
}

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
	fake_send(fd, b);
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
				fake_status(fd, b, id, SSH2_FX_FAILURE);
				break;
			}
			buf_put_u8(b, SSH2_FXP_EXTENDED_REPLY);
			buf_put_u32(b, id);
			/* bsize frsize blocks bfree bavail ... */
			for (i = 0; i < (mode == VFS_SHORT ? 3 : 11); i++) {
				buf_put_u64(b, i == 1 ? 4096 :
				    mode == VFS_PSEUDO ? 0 : 1);
			}
			fake_send(fd, b);
			break;
		case SSH2_FXP_STAT:
		case SSH2_FXP_LSTAT:
		case SSH2_FXP_OPENDIR:
			fake_status(fd, b, id, SSH2_FX_NO_SUCH_FILE);
			break;
		case SSH2_FXP_REALPATH:
			buf_put_u8(b, SSH2_FXP_NAME);
			buf_put_u32(b, id);
			buf_put_u32(b, 1);
			buf_put_string(b, p, plen);
			buf_put_cstring(b, "");
			buf_put_u32(b, 0);
			fake_send(fd, b);
			break;
		case SSH2_FXP_OPEN:
			buf_put_u8(b, SSH2_FXP_HANDLE);
			buf_put_u32(b, id);
			buf_put_string(b, "F", 1);
			fake_send(fd, b);
			break;
		default:
			fake_status(fd, b, id, SSH2_FX_OK);
			break;
		}
		buf_free(in);
	}
}

struct vfs_env {
	pid_t pid;
	int fd, logfd;
	struct sftp_session *s;
	struct sftp_opts o;
	char log[256];
	size_t nlog;
};

static void
vfs_start(struct vfs_env *v, enum vfs_mode mode)
{
	int sv[2], lp[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(pipe(lp), 0);
	v->pid = fork();
	assert_true(v->pid >= 0);
	if (v->pid == 0) {
		close(sv[0]);
		close(lp[0]);
		/* Its "Connection closed" at the end is expected. */
		log_init("fake", LOG_QUIET, 0);
		fake_vfs_server(sv[1], lp[1], mode);
		_exit(0);
	}
	close(sv[1]);
	close(lp[1]);
	v->fd = sv[0];
	v->logfd = lp[0];
	assert_int_equal(sftp_session_open(&v->s, v->fd, v->fd, &v->o), 0);
}

/* Ends the session and collects the fake's request log. */
static void
vfs_stop(struct vfs_env *v)
{
	ssize_t n;

	sftp_session_free(v->s);
	close(v->fd);
	v->nlog = 0;
	while ((n = read(v->logfd, v->log + v->nlog,
	    sizeof(v->log) - 1 - v->nlog)) > 0) {
		v->nlog += (size_t)n;
	}
	v->log[v->nlog] = '\0';
	close(v->logfd);
	waitpid(v->pid, NULL, 0);
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
	/* tree: one for t/, small: one more (a new operand). */
	assert_int_equal(count(&v, LOG_STATVFS), 2);
	assert_int_equal(count(&v, SSH2_FXP_OPEN), 2);
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
