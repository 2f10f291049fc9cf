/*
 * Scaffolding shared by the SFTP unit tests; see sftp_harness.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
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
#include "util/log.h"

#include "sftp_harness.h"

/* ---- scratch directory ---- */

int
harness_dir_enter(struct harness_dir *h, const char *prefix,
    enum log_level level)
{
	int n;

	signal(SIGPIPE, SIG_IGN);
	log_init("scp", level, 0);
	umask(022);
	outfile_set_umask(022);
	n = snprintf(h->dir, sizeof(h->dir), "/tmp/%s.XXXXXX", prefix);
	if (n < 0 || (size_t)n >= sizeof(h->dir)) {
		return -1;
	}
	if (mkdtemp(h->dir) == NULL ||
	    getcwd(h->oldcwd, sizeof(h->oldcwd)) == NULL ||
	    chdir(h->dir) != 0) {
		return -1;
	}
	return 0;
}

int
harness_dir_leave(struct harness_dir *h)
{
	char cmd[256];

	if (chdir(h->oldcwd) != 0) {
		return -1;
	}
	/* Tests leave mode 000 files and directories behind on purpose. */
	snprintf(cmd, sizeof(cmd), "chmod -R u+rwx '%s' 2>/dev/null; "
	    "rm -rf '%s'", h->dir, h->dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- OpenSSH's sftp-server ---- */

void
harness_server_start(struct ssh_child *c, struct sftp_session **s,
    const struct sftp_opts *o)
{
	char *argv[] = { (char *)HARNESS_SFTP_SERVER, NULL };

	assert_int_equal(ssh_child_start(c, argv), 0);
	assert_int_equal(sftp_session_open(s, c->fd, c->fd, o), 0);
}

void
harness_server_stop(struct ssh_child *c, struct sftp_session **s)
{
	sftp_session_free(*s);
	*s = NULL;
	if (c->pid != -1) {
		ssh_child_finish(c);
	}
}

/* ---- fake servers ---- */

void
harness_fake_fork(struct harness_fake *f, void (*serve)(int fd, void *arg),
    void *arg)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	f->pid = fork();
	assert_true(f->pid >= 0);
	if (f->pid == 0) {
		close(sv[0]);
		serve(sv[1], arg);
		_exit(0);
	}
	close(sv[1]);
	f->fd = sv[0];
}

void
harness_fake_stop(struct harness_fake *f, int sig)
{
	int st;

	close(f->fd);
	f->fd = -1;
	if (sig != 0) {
		kill(f->pid, sig);
	}
	assert_int_equal(waitpid(f->pid, &st, 0), f->pid);
	f->pid = -1;
}

void
harness_fake_send(int fd, struct buf *b)
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

void
harness_fake_status(int fd, struct buf *b, uint32_t id, uint32_t code)
{
	buf_put_u8(b, SSH2_FXP_STATUS);
	buf_put_u32(b, id);
	buf_put_u32(b, code);
	buf_put_cstring(b, "");
	buf_put_cstring(b, "");
	harness_fake_send(fd, b);
}

/* ---- files ---- */

void
harness_put(const char *path, const void *p, size_t n, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, n), (ssize_t)n);
	close(fd);
	/* Exactly `mode`, whatever the umask took away. */
	assert_int_equal(chmod(path, mode), 0);
}

void
harness_put_str(const char *path, const char *s)
{
	harness_put(path, s, strlen(s), 0644);
}

char *
harness_get(const char *path, size_t *n)
{
	struct stat st;
	char *p;
	int fd = open(path, O_RDONLY);

	if (fd < 0) {
		return NULL;
	}
	assert_int_equal(fstat(fd, &st), 0);
	p = malloc((size_t)st.st_size + 1);
	assert_non_null(p);
	assert_int_equal(read(fd, p, (size_t)st.st_size), st.st_size);
	p[st.st_size] = '\0';
	*n = (size_t)st.st_size;
	close(fd);
	return p;
}

void
harness_assert_file(const char *path, const char *want)
{
	size_t n;
	char *p = harness_get(path, &n);

	if (p == NULL) {
		fail_msg("%s missing", path);
	}
	assert_int_equal(n, strlen(want));
	assert_memory_equal(p, want, n);
	free(p);
}

int
harness_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

void
harness_put_pattern(const char *path, size_t n, unsigned int seed,
    mode_t mode)
{
	char *p = malloc(n + 1);
	size_t i;

	assert_non_null(p);
	for (i = 0; i < n; i++) {
		p[i] = (char)((i * 131 + seed * 7) & 0xff);
	}
	harness_put(path, p, n, mode);
	free(p);
}

void
harness_assert_same(const char *a, const char *b)
{
	size_t na = 0, nb = 0;
	char *pa = harness_get(a, &na), *pb = harness_get(b, &nb);

	if (pa == NULL || pb == NULL) {
		fprintf(stderr, "cannot read \"%s\"\n", pa == NULL ? a : b);
	}
	assert_non_null(pa);
	assert_non_null(pb);
	assert_int_equal(na, nb);
	assert_memory_equal(pa, pb, na);
	free(pa);
	free(pb);
}

int
harness_count_parts(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (strstr(de->d_name, ".scp-part") != NULL) {
			n++;
		}
	}
	closedir(d);
	return n;
}

int
harness_stderr_to(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600), saved;

	assert_true(fd >= 0);
	fflush(stderr);
	saved = dup(2);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, 2), 2);
	close(fd);
	return saved;
}

void
harness_stderr_restore(int saved)
{
	fflush(stderr);
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
}
