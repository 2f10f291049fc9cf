/*
 * SFTP mode against a hostile server (STYLE.md pattern 12): a forked
 * child speaks just enough SFTP and misbehaves as told.  Each case must
 * end in a clean return (negative, or 1) with nothing written outside
 * the target directory, never a crash, hang or exit.
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
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"
#include "xfer/xfer.h"

#include "sftp_harness.h"

enum fake_mode {
	FAKE_GOOD,
	FAKE_EVIL_NAMES,	/* READDIR "../evil", "a/b", ".", ".." */
	FAKE_LONG_DATA,		/* DATA longer than asked */
	FAKE_WRONG_ID,		/* DATA with an id nobody asked for */
	FAKE_HUGE_LEN,		/* a 4 GiB length */
	FAKE_TRUNCATED,		/* a message cut short, then EOF */
	FAKE_EMPTY_DATA,	/* zero-length DATA (would loop) */
	FAKE_SHELL_TEXT,	/* text before VERSION */
	FAKE_EARLY_EOF,		/* EOF where the last block should be */
	FAKE_ENDLESS_DIR,	/* READDIR never says EOF */
	FAKE_ENDLESS_EMPTY,	/* READDIR sends empty NAME forever */
	FAKE_WRITE_FAIL,	/* every WRITE fails */
	FAKE_READ_FAIL,		/* READ past the first block fails */
};

#define FILE_SIZE	10

static void
put_attr(struct buf *b, int dir, uint64_t size)
{
	struct sftp_attr a;

	memset(&a, 0, sizeof(a));
	a.flags = SSH2_FILEXFER_ATTR_SIZE | SSH2_FILEXFER_ATTR_PERMISSIONS;
	a.perm = dir ? 040755 : 0100644;
	a.size = size;
	sftp_attr_encode(b, &a);
}

static void
put_name(struct buf *b, const char *name, size_t n, int dir)
{
	buf_put_string(b, name, n);
	buf_put_cstring(b, "longname");
	put_attr(b, dir, FILE_SIZE);
}

static int
is_dir_path(const char *p, size_t n)
{
	return (n == 1 && p[0] == 'd') || (n >= 2 && p[n - 2] == '/' &&
	    p[n - 1] == 'd') || (n == 2 && memcmp(p, "d/", 2) == 0);
}

static void
fake_server(int fd, enum fake_mode mode)
{
	struct buf *in = NULL, *b = buf_new(SFTP_MSG_CAP);
	const uint8_t *p;
	uint8_t type, lenb[4], *dst;
	uint32_t id, len, rlen;
	uint64_t off;
	size_t plen;
	int readdir_done = 0;
	char *data;

	/* INIT */
	if (sftp_msg_read(fd, &in) != 0) {
		_exit(0);
	}
	buf_free(in);
	if (mode == FAKE_SHELL_TEXT) {
		(void)io_write_full(fd, "Hello from .bashrc\n", 19);
		_exit(0);
	}
	buf_put_u8(b, SSH2_FXP_VERSION);
	buf_put_u32(b, 3);
	harness_fake_send(fd, b);
	for (;;) {
		if (io_read_full(fd, lenb, 4) != 4) {
			_exit(0);
		}
		len = (uint32_t)lenb[0] << 24 | (uint32_t)lenb[1] << 16 |
		    (uint32_t)lenb[2] << 8 | lenb[3];
		in = buf_new(len);
		if (buf_reserve(in, len, &dst) != 0 ||
		    io_read_full(fd, dst, len) != (ssize_t)len) {
			_exit(0);
		}
		buf_get_u8(in, &type);
		buf_get_u32(in, &id);
		p = NULL;
		plen = 0;
		buf_get_string_direct(in, &p, &plen);
		switch (type) {
		case SSH2_FXP_STAT:
		case SSH2_FXP_LSTAT:
			buf_put_u8(b, SSH2_FXP_ATTRS);
			buf_put_u32(b, id);
			put_attr(b, is_dir_path((const char *)p, plen),
			    FILE_SIZE);
			harness_fake_send(fd, b);
			break;
		case SSH2_FXP_REALPATH:
			buf_put_u8(b, SSH2_FXP_NAME);
			buf_put_u32(b, id);
			buf_put_u32(b, 1);
			data = malloc(plen + 8);
			memcpy(data, "/fake/", 6);
			memcpy(data + 6, p, plen);
			/* Canonical names have no trailing slash. */
			while (plen > 0 && data[6 + plen - 1] == '/') {
				plen--;
			}
			put_name(b, data, plen + 6, 1);
			free(data);
			harness_fake_send(fd, b);
			break;
		case SSH2_FXP_OPENDIR:
		case SSH2_FXP_OPEN:
			buf_put_u8(b, SSH2_FXP_HANDLE);
			buf_put_u32(b, id);
			buf_put_string(b, type == SSH2_FXP_OPEN ? "F" : "D", 1);
			harness_fake_send(fd, b);
			readdir_done = 0;
			break;
		case SSH2_FXP_READDIR:
			if (readdir_done++ && mode != FAKE_ENDLESS_DIR &&
			    mode != FAKE_ENDLESS_EMPTY) {
				harness_fake_status(fd, b, id, SSH2_FX_EOF);
				break;
			}
			buf_put_u8(b, SSH2_FXP_NAME);
			buf_put_u32(b, id);
			if (mode == FAKE_ENDLESS_EMPTY) {
				buf_put_u32(b, 0);
			} else if (mode == FAKE_ENDLESS_DIR) {
				buf_put_u32(b, 2000);
				for (rlen = 0; rlen < 2000; rlen++) {
					put_name(b, "../x", 4, 0);
				}
			} else if (mode == FAKE_EVIL_NAMES) {
				buf_put_u32(b, 7);
				put_name(b, "../evil", 7, 0);
				put_name(b, "a/b", 3, 0);
				put_name(b, ".", 1, 1);
				put_name(b, "..", 2, 1);
				put_name(b, "/etc", 4, 1);
				put_name(b, "n\0ul", 4, 0);
				put_name(b, "ok", 2, 0);
			} else {
				buf_put_u32(b, 1);
				put_name(b, "ok", 2, 0);
			}
			harness_fake_send(fd, b);
			break;
		case SSH2_FXP_READ:
			buf_get_u64(in, &off);
			buf_get_u32(in, &rlen);
			if (mode == FAKE_HUGE_LEN) {
				(void)io_write_full(fd, "\xff\xff\xff\xff\x65",
				    5);
				_exit(0);
			}
			if (mode == FAKE_TRUNCATED) {
				(void)io_write_full(fd,
				    "\0\0\0\x64\x67\0\0\0\x01", 9);
				_exit(0);
			}
			if (mode == FAKE_READ_FAIL && off > 0) {
				harness_fake_status(fd, b, id,
				    SSH2_FX_PERMISSION_DENIED);
				break;
			}
			if (mode == FAKE_EARLY_EOF && off > 0) {
				harness_fake_status(fd, b, id, SSH2_FX_EOF);
				break;
			}
			if (off >= FILE_SIZE) {
				harness_fake_status(fd, b, id, SSH2_FX_EOF);
				break;
			}
			if (mode == FAKE_LONG_DATA) {
				rlen += 5;
			} else if (rlen > FILE_SIZE - off) {
				rlen = (uint32_t)(FILE_SIZE - off);
			}
			if (mode == FAKE_EARLY_EOF && rlen > 4) {
				rlen = 4;
			}
			if (mode == FAKE_EMPTY_DATA) {
				rlen = 0;
			}
			data = malloc(rlen + 1);
			memset(data, 'x', rlen);
			buf_put_u8(b, SSH2_FXP_DATA);
			buf_put_u32(b, mode == FAKE_WRONG_ID ? id + 1000 : id);
			buf_put_string(b, data, rlen);
			free(data);
			harness_fake_send(fd, b);
			break;
		case SSH2_FXP_CLOSE:
		case SSH2_FXP_REMOVE:
		case SSH2_FXP_FSETSTAT:
			harness_fake_status(fd, b, id, SSH2_FX_OK);
			break;
		case SSH2_FXP_WRITE:
			harness_fake_status(fd, b, id, mode == FAKE_WRITE_FAIL ?
			    SSH2_FX_FAILURE : SSH2_FX_OK);
			break;
		default:
			harness_fake_status(fd, b, id, SSH2_FX_OP_UNSUPPORTED);
			break;
		}
		buf_free(in);
	}
}

struct fake {
	struct harness_fake f;
	struct sftp_session *s;
	struct harness_dir h;
	struct sftp_opts o;
};

static void
fake_serve(int fd, void *arg)
{
	fake_server(fd, *(const enum fake_mode *)arg);
}

static int
fake_start(struct fake *f, enum fake_mode mode, int recursive)
{
	memset(&f->o, 0, sizeof(f->o));
	f->o.recursive = recursive;
	f->s = NULL;
	harness_fake_fork(&f->f, fake_serve, &mode);
	return sftp_session_open(&f->s, f->f.fd, f->f.fd, &f->o);
}

static void
fake_stop(struct fake *f)
{
	sftp_session_free(f->s);
	f->s = NULL;
	harness_fake_stop(&f->f, SIGTERM);
}

static int
setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));

	if (f == NULL || harness_dir_enter(&f->h, "sftpfake", LOG_QUIET) != 0 ||
	    mkdir("out", 0755) != 0) {
		free(f);
		return -1;
	}
	*state = f;
	alarm(30);
	return 0;
}

static int
teardown(void **state)
{
	struct fake *f = *state;
	int r;

	alarm(0);
	r = harness_dir_leave(&f->h);
	free(f);
	return r;
}

/* Names in directory `path` (excluding . and ..), space separated. */
static void
listing(const char *path, char *out, size_t outsz)
{
	struct dirent *de;
	DIR *d = opendir(path);

	out[0] = '\0';
	if (d == NULL) {
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0) {
			continue;
		}
		strncat(out, de->d_name, outsz - strlen(out) - 2);
		strncat(out, " ", outsz - strlen(out) - 1);
	}
	closedir(d);
}

static void
test_good(void **state)
{
	struct fake *f = *state;
	char l[256];

	assert_int_equal(fake_start(f, FAKE_GOOD, 0), 0);
	assert_int_equal(sftp_download(f->s, "f", "out"), 0);
	fake_stop(f);
	listing("out", l, sizeof(l));
	assert_string_equal(l, "f ");
}

static void
test_evil_names(void **state)
{
	struct fake *f = *state;
	char l[256];
	int r;

	assert_int_equal(fake_start(f, FAKE_EVIL_NAMES, 1), 0);
	r = sftp_download(f->s, "d", "out");
	assert_true(r == 0 || r == 1);
	/* Globbing over the same listing. */
	r = sftp_download(f->s, "*", "out");
	assert_true(r == 0 || r == 1);
	fake_stop(f);
	listing("out", l, sizeof(l));
	assert_true(strcmp(l, "d ok ") == 0 || strcmp(l, "ok d ") == 0);
	listing("out/d", l, sizeof(l));
	assert_string_equal(l, "ok ");
	listing(".", l, sizeof(l));
	assert_string_equal(l, "out ");
}

static void
bad_data_case_left(void **state, enum fake_mode mode, const char *left)
{
	struct fake *f = *state;
	char l[256];
	int r;

	assert_int_equal(fake_start(f, mode, 0), 0);
	r = sftp_download(f->s, "f", "out");
	assert_true(r < 0);
	assert_true(f->s->dead);
	/* Later calls fail at once. */
	assert_true(sftp_download(f->s, "f", "out") < 0);
	fake_stop(f);
	listing("out", l, sizeof(l));
	assert_string_equal(l, left);
	listing(".", l, sizeof(l));
	assert_string_equal(l, "out ");
}

/* Malformed data: nothing kept. */
static void
bad_data_case(void **state, enum fake_mode mode)
{
	bad_data_case_left(state, mode, "");
}

static void
test_long_data(void **state)
{
	bad_data_case(state, FAKE_LONG_DATA);
}

static void
test_wrong_id(void **state)
{
	bad_data_case(state, FAKE_WRONG_ID);
}

static void
test_huge_len(void **state)
{
	bad_data_case(state, FAKE_HUGE_LEN);
}

static void
test_truncated(void **state)
{
	/* A lost connection: the partial stays for --resume. */
	bad_data_case_left(state, FAKE_TRUNCATED, ".f.10-0.scp-part ");
}

static void
test_empty_data(void **state)
{
	bad_data_case(state, FAKE_EMPTY_DATA);
}

static void
test_early_eof(void **state)
{
	struct fake *f = *state;
	size_t n;
	char l[256];
	int r, fd;

	/*
	 * A file shorter than STAT said changed under us: an error, and
	 * nothing under the final name (never lie; docs/SAFETY.md).
	 */
	assert_int_equal(fake_start(f, FAKE_EARLY_EOF, 0), 0);
	r = sftp_download(f->s, "f", "out");
	assert_int_equal(r, 1);
	fake_stop(f);
	listing("out", l, sizeof(l));
	assert_string_equal(l, "");
	fd = open("out/f", O_RDONLY);
	assert_true(fd == -1);
	n = 0;
	assert_int_equal(n, 0);
}

static void
endless_case(void **state, enum fake_mode mode, int want)
{
	struct fake *f = *state;
	char l[256];

	assert_int_equal(fake_start(f, mode, 1), 0);
	assert_int_equal(sftp_download(f->s, "d", "out"), want);
	fake_stop(f);
	listing("out", l, sizeof(l));
	assert_string_equal(l, "d ");
	listing("out/d", l, sizeof(l));
	assert_string_equal(l, "");
}

static void
test_endless_dir(void **state)
{
	/* Capped at SFTP_MAX_DIRENTS: an error, session still fine. */
	endless_case(state, FAKE_ENDLESS_DIR, 1);
}

static void
test_endless_empty(void **state)
{
	/* An empty NAME ends the listing. */
	endless_case(state, FAKE_ENDLESS_EMPTY, 0);
}

static void
test_write_fail(void **state)
{
	struct fake *f = *state;
	char buf[100000];
	int fd;

	memset(buf, 'w', sizeof(buf));
	fd = open("local", O_WRONLY | O_CREAT, 0644);
	assert_int_equal(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	close(fd);
	assert_int_equal(fake_start(f, FAKE_WRITE_FAIL, 0), 0);
	/* "f" exists on the fake as a regular file; not a directory. */
	assert_int_equal(sftp_upload(f->s, "local", "f", 0), 1);
	assert_false(f->s->dead);
	assert_int_equal(sftp_req_count(f->s, NULL), 0);
	fake_stop(f);
}

static void
test_read_fail(void **state)
{
	struct fake *f = *state;
	char l[256];

	/* Blocks of 4 bytes so that the file needs several READs. */
	f->o.buffer_len = 4;
	assert_int_equal(fake_start(f, FAKE_READ_FAIL, 0), 0);
	f->s->read_len = 4;
	assert_int_equal(sftp_download(f->s, "f", "out"), 1);
	assert_false(f->s->dead);
	assert_int_equal(sftp_req_count(f->s, NULL), 0);
	fake_stop(f);
	listing("out", l, sizeof(l));
	assert_string_equal(l, "");
}

static void
test_shell_text(void **state)
{
	struct fake *f = *state;

	assert_int_equal(fake_start(f, FAKE_SHELL_TEXT, 0), SCP_E_TOOBIG);
	assert_null(f->s);
	fake_stop(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_good, setup, teardown),
		cmocka_unit_test_setup_teardown(test_evil_names, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_long_data, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_wrong_id, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_huge_len, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_truncated, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_empty_data, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_early_eof, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_shell_text, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_endless_dir, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_endless_empty, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_write_fail, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_read_fail, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
