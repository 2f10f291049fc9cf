/*
 * libFuzzer target: a whole SFTP server conversation (PROTOCOL.md
 * section 4) played against the real download, upload and -3 relay.
 *
 * Unlike fuzz_sftp_msg, which feeds a fixed byte stream, the server
 * here sees the client's real requests and answers them, pending ones
 * in any order and in any shape: the input is a script of turns
 * (conv.c for its bytes, conv_reply.c for the replies' fields and the
 * model of a remote tree that the natural replies describe).  The
 * client's read, write and poll calls on its connection are diverted to
 * that server by the linker (conv_wrap.c): one thread, deterministic,
 * and a turn runs whenever the client would block, so nothing can hang.
 *
 * Input: byte 0 and byte 1 configure the run, the rest is the script.
 *   byte 0  bit 0 -r    bits 1-2: 1 -p, 2 --inplace, 3 -p --resume
 *           bit 3 sftp_session_start (VERSION read lazily)
 *           bits 4-6 the operation (table `ops` below)
 *           bit 7 --fsync
 *   byte 1  bits 0-1 -X nrequests= (automatic, 1, 2, 16)
 *           bits 2-3 -X buffer= (automatic, 512, 4096, 70000)
 *           bit 4 a single download goes into the directory, not to
 *           a new name       bit 5 uploads are deferred (o->defer)
 *
 * Local files: a private directory in $TMPDIR holds src (the upload
 * sources: f, g, d/e), dl (the download target, emptied after each run)
 * and sentinel (one file).  Invariants, abort on violation: every call
 * returns 0, 1 or a negative SCP_E_* code; the private directory holds
 * only those three; sentinel and src are unchanged (names, sizes,
 * mtimes); $TMPDIR holds only the private directory; a failed atomic
 * single-file download leaves no file; no descriptor is left open; and,
 * from the sanitizers, no leak or memory error.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conv.h"
#include "fuzz_util.h"
#include "proto/sftp/sftp.h"
#include "xfer/xfer.h"
#include "util/err.h"
#include "util/log.h"

#define FUZZ_MAX_INPUT	(64 * 1024)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char topdir[4096], dldir[4200], srcdir[4200], sentdir[4200];
static int fds[2][2];

/* What src and sentinel hold, checked after every run. */
static const struct {
	const char *path;
	size_t size;
} fixed[] = {
	{ "src/f", 1000 }, { "src/g", 70000 }, { "src/d/e", 10 },
	{ "sentinel/keep", 64 },
};
#define NFIXED	(sizeof(fixed) / sizeof(fixed[0]))
static struct stat fixed_st[NFIXED];

static void
mkdir_or_die(const char *path)
{
	if (mkdir(path, 0755) == -1) {
		fz_die(path);
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const struct timespec times[2] = { { 1700000000, 0 },
	    { 1700000000, 0 } };
	char path[4400];
	size_t i;

	(void)argc;
	(void)argv;
	snprintf(topdir, sizeof(topdir), "%s", fz_topdir("fuzz_sftp_conv"));
	snprintf(dldir, sizeof(dldir), "%s/dl", topdir);
	snprintf(srcdir, sizeof(srcdir), "%s/src", topdir);
	snprintf(sentdir, sizeof(sentdir), "%s/sentinel", topdir);
	mkdir_or_die(srcdir);
	mkdir_or_die(sentdir);
	fz_put_file(srcdir, "f", 1000);
	fz_put_file(srcdir, "g", 70000);
	snprintf(path, sizeof(path), "%s/d", srcdir);
	mkdir_or_die(path);
	fz_put_file(path, "e", 10);
	fz_put_file(sentdir, "keep", 64);
	/* Fixed times: upload temporary names carry the source's mtime,
	 * and the conversation must not vary from one process to the
	 * next. */
	for (i = 0; i < NFIXED; i++) {
		snprintf(path, sizeof(path), "%s/%s", topdir, fixed[i].path);
		if (utimensat(AT_FDCWD, path, times, 0) == -1 ||
		    lstat(path, &fixed_st[i]) == -1) {
			fz_die(path);
		}
	}
	/* Real descriptors that are never read or written for real: the
	 * client's calls on them are the scripted server's (conv.h). */
	for (i = 0; i < 2; i++) {
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds[i]) == -1) {
			fz_die("socketpair");
		}
	}
	log_init("scp", getenv("FUZZ_VERBOSE") != NULL ? LOG_DEBUG3 :
	    LOG_ERROR, 0);
	return 0;
}

/* ---- invariants ---- */

static void
check_ret(const char *what, int r)
{
	if (r > 1 || r < SCP_E_SPAWN) {
		fprintf(stderr, "fuzz_sftp_conv: %s returned %d\n", what, r);
		abort();
	}
}

static int
count_fds(void)
{
	struct dirent *de;
	int n = 0;
	DIR *d;

	if ((d = opendir("/proc/self/fd")) == NULL) {
		fz_die("/proc/self/fd");
	}
	while ((de = readdir(d)) != NULL) {
		n++;
	}
	closedir(d);
	return n;
}

static void
check_tree(void)
{
	static const char *const top[] = { "src", "dl", "sentinel", NULL };
	static const char *const src[] = { "f", "g", "d", NULL };
	static const char *const srcd[] = { "e", NULL };
	static const char *const sent[] = { "keep", NULL };
	char path[4400];
	struct stat st;
	size_t i;

	fz_check_only(topdir, top);
	fz_check_only(srcdir, src);
	snprintf(path, sizeof(path), "%s/d", srcdir);
	fz_check_only(path, srcd);
	fz_check_only(sentdir, sent);
	fz_check_tmpdir();
	for (i = 0; i < NFIXED; i++) {
		snprintf(path, sizeof(path), "%s/%s", topdir, fixed[i].path);
		if (lstat(path, &st) == -1 || !S_ISREG(st.st_mode) ||
		    (size_t)st.st_size != fixed[i].size ||
		    st.st_ino != fixed_st[i].st_ino ||
		    st.st_mtim.tv_sec != fixed_st[i].st_mtim.tv_sec ||
		    st.st_mtim.tv_nsec != fixed_st[i].st_mtim.tv_nsec ||
		    st.st_mode != fixed_st[i].st_mode) {
			fprintf(stderr, "fuzz_sftp_conv: %s changed\n",
			    fixed[i].path);
			abort();
		}
	}
}

/* ---- the operations ---- */

static int
run_upload(struct sftp_session *s, const struct sftp_opts *o,
    unsigned int op)
{
	static const char *const srcs[3] = { "f", "d", "g" };
	char a[4400];
	int r = 0, r2;
	size_t i;

	switch (op) {
	case 4:
		snprintf(a, sizeof(a), "%s/f", srcdir);
		r = sftp_upload(s, a, "/r/t", 0);
		break;
	case 5:
		snprintf(a, sizeof(a), "%s/d", srcdir);
		r = sftp_upload(s, a, "~/t", 0);
		break;
	default:
		for (i = 0; i < 3; i++) {
			snprintf(a, sizeof(a), "%s/%s", srcdir, srcs[i]);
			r2 = sftp_upload(s, a, "/r/dd", 1);
			check_ret("sftp_upload", r2);
			if (r2 < 0) {
				return r2;
			}
			r = r2 > r ? r2 : r;
		}
		break;
	}
	check_ret("sftp_upload", r);
	if (r >= 0 && o->defer) {
		r2 = sftp_upload_flush(s);
		check_ret("sftp_upload_flush", r2);
		r = r2 != 0 ? r2 : r;
	}
	return r;
}

static int
run_download(struct sftp_session *s, unsigned int op, int into_dir)
{
	char target[4400];
	int r;

	switch (op) {
	case 0:
		snprintf(target, sizeof(target), into_dir ? "%s" : "%s/out",
		    dldir);
		return sftp_download(s, "/r/f", target);
	case 1:
		return sftp_download(s, "/r/[a-c]*", dldir);
	case 2:
		return sftp_download(s, "~/d", dldir);
	default:
		/* Two operands on one session, the second after whatever
		 * the first left. */
		r = sftp_download(s, "d*", dldir);
		check_ret("sftp_download", r);
		if (r < 0) {
			return r;
		}
		return sftp_download(s, "/r/b", dldir);
	}
}

static int
open_session(struct sftp_session **s, int fd, const struct sftp_opts *o,
    int start)
{
	int r;

	r = start ? sftp_session_start(s, fd, fd, o) :
	    sftp_session_open(s, fd, fd, o);
	if ((r == 0) != (*s != NULL) || r > 0) {
		fprintf(stderr, "fuzz_sftp_conv: open returned %d\n", r);
		abort();
	}
	return r;
}

static int
run_crossload(const struct sftp_opts *o, int start, int deep)
{
	struct sftp_session *from = NULL, *to = NULL;
	int r;

	if ((r = open_session(&from, fds[0][0], o, start)) != 0) {
		return r;
	}
	if ((r = open_session(&to, fds[1][0], o, start)) == 0) {
		r = deep ? xfer_relay(from, "~/d", to, "t", 0) :
		    xfer_relay(from, "/r/[a-c]*", to, "/r/dd", 1);
	}
	sftp_session_free(from);
	sftp_session_free(to);
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t nreq[4] = { 0, 1, 2, 16 };
	static const uint32_t blen[4] = { 0, 512, 4096, 70000 };
	static struct sftp_opts o;
	struct sftp_session *s = NULL;
	unsigned int cfg, cfg2, op;
	int r, start, nfd;

	if (size < 2 || size > FUZZ_MAX_INPUT) {
		return 0;
	}
	cfg = data[0];
	cfg2 = data[1];
	op = cfg >> 4 & 7;
	start = (cfg & 0x08) != 0;
	memset(&o, 0, sizeof(o));
	o.recursive = (cfg & 0x01) != 0;
	o.preserve = (cfg & 0x02) != 0;
	o.inplace = (cfg & 0x06) == 0x04;
	o.resume = (cfg & 0x06) == 0x06;
	o.fsync = (cfg & 0x80) != 0;
	o.nrequests = nreq[cfg2 & 3];
	o.buffer_len = blen[cfg2 >> 2 & 3];
	o.defer = (cfg2 & 0x20) != 0;
	/* A local server: its round trip is never timed, so nothing
	 * depends on the clock (sftp.h). */
	o.local = 1;

	nfd = count_fds();
	mkdir_or_die(dldir);
	conv_reset(data + 2, size - 2);
	conv_attach(fds[0][0]);
	if (op == 7) {
		conv_attach(fds[1][0]);
		r = run_crossload(&o, start, (cfg2 & 0x10) != 0);
		check_ret("xfer_relay", r);
		goto done;
	}
	if ((r = open_session(&s, fds[0][0], &o, start)) != 0) {
		goto done;
	}
	if (op >= 4) {
		r = run_upload(s, &o, op);
	} else {
		r = run_download(s, op, (cfg2 & 0x10) != 0);
		check_ret("sftp_download", r);
		if (op == 0 && !(cfg2 & 0x10) && !o.inplace &&
		    !o.recursive) {
			fz_check_single(dldir, "out", r);
		}
	}
	sftp_session_free(s);
done:
	conv_reset(NULL, 0);
	check_tree();
	fz_rm_tree(dldir);
	if (count_fds() != nfd) {
		fprintf(stderr, "fuzz_sftp_conv: descriptors leaked\n");
		abort();
	}
	return 0;
}
