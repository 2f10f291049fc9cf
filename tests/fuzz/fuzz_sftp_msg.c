/*
 * libFuzzer target: everything the SFTP client decodes from a server
 * (PROTOCOL.md section 4): framing, VERSION and its extensions,
 * limits@openssh.com, STATUS, HANDLE, NAME, ATTRS and DATA replies, as
 * driven by the real session, glob, download, upload and relay code.
 *
 * The input is the server's whole byte stream.  It is put in a memfd
 * that the client reads (data, then EOF: nothing can block), and the
 * client's requests go to /dev/null, so no second thread or process is
 * needed.  The client's request ids are deterministic (1, 2, ...), so a
 * script of replies can answer them without seeing them.
 *
 * Input layout: byte 0 configures the run, the rest is the stream.
 *   bit 0  -r            bit 1  -p            bit 2  --inplace
 *          (bits 1+2 together: -p --resume)
 *   bit 3  framed mode: the stream is records [type u8][len u16][body]
 *          and the harness adds each message's length and id (the
 *          first record is VERSION, without id; then ids 1, 2, ...), so
 *          that mutations reach the decoders instead of the framing
 *   bits 4-5  which operation (table `ops` below)
 *   bit 6  the local target is an existing directory
 *   bit 7  upload instead of download
 *   bits 6 and 7 both: remote-to-remote relay (-3): the stream is
 *          [len u16][stream of the source session][stream of the
 *          destination session], each framed separately in framed mode
 *
 * Framing never more than triples a record (3 header bytes become 9).
 *
 * Files are only ever written below a private directory made in
 * $TMPDIR (removed at exit): downloads go to <dir>/dl, which is emptied
 * after every run; upload sources are in <dir>/src.  After each run the
 * private directory must hold nothing else (abort otherwise), and a
 * failed single-file atomic download must leave no file at all under
 * <dir>/dl: "never lie" (src/fs/outfile.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "proto/sftp/sftp.h"
#include "util/err.h"
#include "util/log.h"
#include "xfer/xfer.h"

#define FUZZ_MAX_INPUT	(1024 * 1024)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char topdir[4096], dldir[4200], srcdir[4200];
static int in_fd = -1, in2_fd = -1, null_fd = -1;
static uint8_t *stream;

static const char *const dl_src[4] = {
	"/r/f", "/r/[a-c]*", "~/d", "~u/x",
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[4400];

	(void)argc;
	(void)argv;
	snprintf(topdir, sizeof(topdir), "%s", fz_topdir("fuzz_sftp_msg"));
	snprintf(dldir, sizeof(dldir), "%s/dl", topdir);
	snprintf(srcdir, sizeof(srcdir), "%s/src", topdir);
	if (mkdir(srcdir, 0755) == -1) {
		fz_die("mkdir src");
	}
	fz_put_file(srcdir, "f", 1000);
	fz_put_file(srcdir, "g", 70000);
	snprintf(path, sizeof(path), "%s/d", srcdir);
	if (mkdir(path, 0755) == -1) {
		fz_die("mkdir src/d");
	}
	fz_put_file(path, "e", 10);
	in_fd = fz_memfd("fuzz_sftp_in");
	in2_fd = fz_memfd("fuzz_sftp_in2");
	null_fd = fz_devnull();
	if ((stream = malloc(FUZZ_MAX_INPUT * 3 + 16)) == NULL) {
		fz_die("malloc");
	}
	/* Quiet unless asked: messages cost time and drown libFuzzer's. */
	log_init("scp", getenv("FUZZ_VERBOSE") != NULL ? LOG_DEBUG3 :
	    LOG_ERROR, 0);
	return 0;
}

/*
 * Framed mode: [type][len u16][body] records become SFTP messages.
 * Returns the stream length.
 */
static size_t
frame(const uint8_t *in, size_t n, uint8_t *out)
{
	size_t o = 0, blen, mlen;
	uint32_t id = 1;
	int first = 1;

	while (n >= 3) {
		blen = (size_t)in[1] << 8 | in[2];
		if (blen > n - 3) {
			blen = n - 3;
		}
		mlen = 1 + (first ? 0 : 4) + blen;
		out[o++] = (uint8_t)(mlen >> 24);
		out[o++] = (uint8_t)(mlen >> 16);
		out[o++] = (uint8_t)(mlen >> 8);
		out[o++] = (uint8_t)mlen;
		out[o++] = in[0];
		if (!first) {
			out[o++] = (uint8_t)(id >> 24);
			out[o++] = (uint8_t)(id >> 16);
			out[o++] = (uint8_t)(id >> 8);
			out[o++] = (uint8_t)id;
			id++;
		}
		first = 0;
		memcpy(out + o, in + 3, blen);
		o += blen;
		in += 3 + blen;
		n -= 3 + blen;
	}
	return o;
}

/* Only "src" and "dl" may exist in the private directory. */
static void
check_topdir(void)
{
	static const char *const allowed[] = { "src", "dl", NULL };

	fz_check_only(topdir, allowed);
	fz_check_tmpdir();
}

static int
run_upload(struct sftp_session *s, unsigned int op)
{
	char a[4400], b[4400];
	int r;

	switch (op) {
	case 0:
		snprintf(a, sizeof(a), "%s/f", srcdir);
		return sftp_upload(s, a, "/r/t", 0);
	case 1:
		snprintf(a, sizeof(a), "%s/g", srcdir);
		return sftp_upload(s, a, "", 0);
	case 2:
		snprintf(a, sizeof(a), "%s/d", srcdir);
		return sftp_upload(s, a, "~/t", 0);
	default:
		snprintf(a, sizeof(a), "%s/f", srcdir);
		snprintf(b, sizeof(b), "%s/d", srcdir);
		if ((r = sftp_upload(s, a, "/r/d", 1)) < 0) {
			return r;
		}
		return sftp_upload(s, b, "/r/d", 1);
	}
}

/* Puts `n` bytes of stream `p` (framed first if asked) into memfd `fd`. */
static void
feed(int fd, const uint8_t *p, size_t n, int framed)
{
	if (framed) {
		n = frame(p, n, stream);
		p = stream;
	}
	fz_feed(fd, p, n);
}

static const struct {
	const char *src, *target;
	int multiple;
} xl[4] = {
	{ "/r/f", "/r/t", 0 },
	{ "/r/[a-c]*", "/r/d", 1 },
	{ "~/d", "~u/t", 0 },
	{ "~u/x", "", 0 },
};

/* -3: two sessions, both fed from the input. */
static void
run_crossload(const struct sftp_opts *o, const uint8_t *p, size_t n,
    int framed, unsigned int op)
{
	struct sftp_session *from = NULL, *to = NULL;
	size_t n1;
	int r;

	if (n < 2) {
		return;
	}
	n1 = (size_t)p[0] << 8 | p[1];
	p += 2;
	n -= 2;
	if (n1 > n) {
		n1 = n;
	}
	feed(in_fd, p, n1, framed);
	feed(in2_fd, p + n1, n - n1, framed);
	if ((r = sftp_session_open(&from, in_fd, null_fd, o)) != 0) {
		return;
	}
	if ((r = sftp_session_open(&to, in2_fd, null_fd, o)) == 0) {
		r = xfer_relay(from, xl[op].src, to, xl[op].target,
		    xl[op].multiple);
		if (r > 1) {
			fprintf(stderr, "fuzz_sftp_msg: bad return %d\n", r);
			abort();
		}
	}
	sftp_session_free(from);
	sftp_session_free(to);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sftp_opts o;
	struct sftp_session *s = NULL;
	char target[4400];
	unsigned int cfg, op;
	int r, single = 0, framed;

	if (size < 1 || size > FUZZ_MAX_INPUT) {
		return 0;
	}
	cfg = data[0];
	op = (cfg >> 4) & 3;
	framed = (cfg & 0x08) != 0;
	memset(&o, 0, sizeof(o));
	o.recursive = (cfg & 0x01) != 0;
	o.preserve = (cfg & 0x02) != 0;
	/* -p with --inplace is dull; that pair means -p --resume instead
	 * (READ replies to the resume checks come from the input too). */
	o.inplace = (cfg & 0x06) == 0x04;
	o.resume = (cfg & 0x06) == 0x06;
	if (mkdir(dldir, 0700) == -1) {
		fz_die("mkdir dl");
	}
	if ((cfg & 0xc0) == 0xc0) {
		run_crossload(&o, data + 1, size - 1, framed, op);
		goto done;
	}
	feed(in_fd, data + 1, size - 1, framed);

	r = sftp_session_open(&s, in_fd, null_fd, &o);
	if (r == 0) {
		if (s == NULL) {
			fprintf(stderr, "fuzz_sftp_msg: no session\n");
			abort();
		}
		if (cfg & 0x80) {
			r = run_upload(s, op);
		} else {
			if (cfg & 0x40) {
				snprintf(target, sizeof(target), "%s", dldir);
			} else {
				snprintf(target, sizeof(target), "%s/out",
				    dldir);
				single = op == 0 && !o.inplace &&
				    !o.recursive;
			}
			r = sftp_download(s, dl_src[op], target);
		}
		if (r > 1) {
			fprintf(stderr, "fuzz_sftp_msg: bad return %d\n", r);
			abort();
		}
		sftp_session_free(s);
	} else if (r > 0 || s != NULL) {
		fprintf(stderr, "fuzz_sftp_msg: open returned %d\n", r);
		abort();
	}
	if (single) {
		fz_check_single(dldir, "out", r);
	}
done:
	check_topdir();
	fz_rm_tree(dldir);
	return 0;
}
