/*
 * One file over several sessions (multi.c): the end of the copy.  The
 * sessions' CLOSEs must all be on the wire before any of their replies
 * is waited for; one after the other, a long link pays a round trip per
 * session.  Forked fake servers, one per session, share a counter of
 * the CLOSEs they received: each answers its CLOSE only once all have
 * arrived, or late after 3 s, and says which.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "proto/sftp/sftp_int.h"
#include "xfer/transfer.h"
#include "transport/io.h"
#include "util/buf.h"
#include "util/log.h"

#include "sftp_harness.h"

#define NSESS		3
#define FILE_SIZE	(9ULL * 1024 * 1024)	/* above MULTI_FLOOR */

/* Shared with the fakes (MAP_SHARED before the fork). */
struct shared {
	int closes;		/* CLOSEs received, all fakes */
	int late;		/* CLOSEs answered before all had arrived */
	int answered;
};

struct fake_arg {
	struct shared *sh;
	int nclose;		/* CLOSEs to wait for */
};

struct ctx {
	struct harness_dir h;
	struct shared *sh;
	struct harness_fake f[NSESS];
	struct sftp_session *s[NSESS];
	struct sftp_opts o;
};

/* Waits up to 3 s for every session's CLOSE. */
static void
close_barrier(struct fake_arg *a)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	int i;

	__atomic_add_fetch(&a->sh->closes, 1, __ATOMIC_SEQ_CST);
	for (i = 0; i < 300; i++) {
		if (__atomic_load_n(&a->sh->closes, __ATOMIC_SEQ_CST) >=
		    a->nclose) {
			break;
		}
		(void)nanosleep(&ts, NULL);
	}
	if (i == 300) {
		__atomic_add_fetch(&a->sh->late, 1, __ATOMIC_SEQ_CST);
	}
	__atomic_add_fetch(&a->sh->answered, 1, __ATOMIC_SEQ_CST);
}

static void
fake_serve(int fd, void *arg)
{
	struct fake_arg *a = arg;
	struct buf *in = NULL, *b = buf_new(SFTP_MSG_CAP);
	const uint8_t *p;
	uint8_t type, *dst;
	uint32_t id, len;
	uint64_t off;
	size_t plen;

	if (sftp_msg_read(fd, &in) != 0) {
		_exit(0);
	}
	buf_free(in);
	buf_put_u8(b, SSH2_FXP_VERSION);
	buf_put_u32(b, 3);
	harness_fake_send(fd, b);
	for (;;) {
		if (sftp_msg_read(fd, &in) != 0) {
			_exit(0);
		}
		if (buf_get_u8(in, &type) != 0 || buf_get_u32(in, &id) != 0) {
			_exit(1);
		}
		switch (type) {
		case SSH2_FXP_OPEN:
			buf_put_u8(b, SSH2_FXP_HANDLE);
			buf_put_u32(b, id);
			buf_put_cstring(b, "h");
			harness_fake_send(fd, b);
			break;
		case SSH2_FXP_READ:
			(void)buf_get_string_direct(in, &p, &plen);
			(void)buf_get_u64(in, &off);
			(void)buf_get_u32(in, &len);
			if (off >= FILE_SIZE) {
				harness_fake_status(fd, b, id, SSH2_FX_EOF);
				break;
			}
			if (len > FILE_SIZE - off) {
				len = (uint32_t)(FILE_SIZE - off);
			}
			buf_put_u8(b, SSH2_FXP_DATA);
			buf_put_u32(b, id);
			buf_put_u32(b, len);
			if (buf_reserve(b, len, &dst) != 0) {
				_exit(1);
			}
			memset(dst, 'x', len);
			harness_fake_send(fd, b);
			break;
		case SSH2_FXP_CLOSE:
			close_barrier(a);
			harness_fake_status(fd, b, id, SSH2_FX_OK);
			break;
		case SSH2_FXP_STAT:
		case SSH2_FXP_LSTAT:
			harness_fake_status(fd, b, id, SSH2_FX_NO_SUCH_FILE);
			break;
		default:	/* WRITE, RENAME, SETSTAT, REMOVE... */
			harness_fake_status(fd, b, id, SSH2_FX_OK);
			break;
		}
		buf_free(in);
		in = NULL;
	}
}

/* The provider: every other session, at once. */
static size_t
peers(void *vctx, struct sftp_session *s, uint64_t size, uint32_t rtt_us,
    struct sftp_session **out, size_t max)
{
	struct ctx *c = vctx;
	size_t i, n = 0;

	(void)s;
	(void)size;
	(void)rtt_us;
	for (i = 1; i < NSESS && n < max; i++) {
		out[n++] = c->s[i];
	}
	return n;
}

/* Starts NSESS fakes waiting for `nclose` CLOSEs, and their sessions. */
static void
start(struct ctx *c, int nclose)
{
	struct fake_arg a;
	size_t i;

	memset(c->sh, 0, sizeof(*c->sh));
	a.sh = c->sh;
	a.nclose = nclose;
	memset(&c->o, 0, sizeof(c->o));
	for (i = 0; i < NSESS; i++) {
		harness_fake_fork(&c->f[i], fake_serve, &a);
		assert_int_equal(sftp_session_open(&c->s[i], c->f[i].fd,
		    c->f[i].fd, &c->o), 0);
	}
	sftp_session_set_peers(c->s[0], peers, c);
}

static void
stop(struct ctx *c)
{
	size_t i;

	for (i = 0; i < NSESS; i++) {
		sftp_session_free(c->s[i]);
		c->s[i] = NULL;
		harness_fake_stop(&c->f[i], SIGTERM);
	}
}

static int
setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (c == NULL || harness_dir_enter(&c->h, "sftpmulti",
	    LOG_QUIET) != 0) {
		free(c);
		return -1;
	}
	c->sh = mmap(NULL, sizeof(*c->sh), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (c->sh == MAP_FAILED) {
		(void)harness_dir_leave(&c->h);
		free(c);
		return -1;
	}
	*state = c;
	alarm(60);
	return 0;
}

static int
teardown(void **state)
{
	struct ctx *c = *state;
	int r;

	alarm(0);
	munmap(c->sh, sizeof(*c->sh));
	r = harness_dir_leave(&c->h);
	free(c);
	return r;
}

/* Upload: the others' CLOSEs and the first session's in one round trip,
 * before the rename. */
static void
test_upload_closes_together(void **state)
{
	struct ctx *c = *state;
	struct sftp_attr a;
	int fd;

	assert_int_equal(ftruncate(fd = open("big", O_RDWR | O_CREAT |
	    O_TRUNC, 0644), (off_t)FILE_SIZE), 0);
	memset(&a, 0, sizeof(a));
	a.flags = SSH2_FILEXFER_ATTR_SIZE | SSH2_FILEXFER_ATTR_PERMISSIONS;
	a.size = FILE_SIZE;
	a.perm = 0644;
	start(c, NSESS);
	/* fd is the function's to close. */
	assert_int_equal(sftp_multi_upload(c->s[0], fd, "big", "dir/big",
	    &a, 1), 0);
	stop(c);
	assert_int_equal(c->sh->answered, NSESS);
	assert_int_equal(c->sh->late, 0);
}

/* Download: every CLOSE (and the READ past the end) in one round trip. */
static void
test_download_closes_together(void **state)
{
	struct ctx *c = *state;
	struct sftp_attr a;
	struct stat st;
	int dirfd;

	memset(&a, 0, sizeof(a));
	a.flags = SSH2_FILEXFER_ATTR_SIZE | SSH2_FILEXFER_ATTR_PERMISSIONS;
	a.size = FILE_SIZE;
	a.perm = 0644;
	assert_true((dirfd = open(".", O_RDONLY | O_DIRECTORY)) >= 0);
	start(c, NSESS);
	assert_int_equal(sftp_multi_download(c->s[0], "big", &a, NULL, dirfd,
	    "got", "got", 0), 0);
	stop(c);
	close(dirfd);
	assert_int_equal(stat("got", &st), 0);
	assert_int_equal((uint64_t)st.st_size, FILE_SIZE);
	assert_int_equal(c->sh->answered, NSESS);
	assert_int_equal(c->sh->late, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_upload_closes_together,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_download_closes_together,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
