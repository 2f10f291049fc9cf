/*
 * Writes the seeds of fuzz_delta_sig and fuzz_delta_patch that only
 * librsync can make (real signatures and deltas of the fixed files of
 * fuzz_delta.h) into CORPUS/<target>/:
 *     delta_seeds CORPUS
 * tests/fuzz/mkcorpus.sh runs it from the fuzz build; the hand-made
 * seeds (bad magic, copies past the base, a flood of copies) are
 * printf lines there.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "delta/delta.h"
#include "util/buf.h"

#include "fuzz_delta.h"
#include "fuzz_util.h"

static const char *corpus;

static void
put(const char *target, const char *name, const uint8_t *prefix,
    size_t plen, const uint8_t *p, size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/%s", corpus, target, name);
	if ((f = fopen(path, "wb")) == NULL ||
	    fwrite(prefix, 1, plen, f) != plen ||
	    (n > 0 && fwrite(p, 1, n, f) != n) || fclose(f) != 0) {
		fz_die(path);
	}
}

static struct buf *
sig_of(enum fzd_variant v)
{
	struct buf *b = buf_new(DELTA_SIG_MAX);
	int fd = fzd_memfd(v);

	if (b == NULL || delta_sig_make(fd, b) != 0) {
		fz_die("signature");
	}
	close(fd);
	return b;
}

/* The delta from variant `base` to variant `nw`. */
static struct buf *
delta_of(enum fzd_variant base, enum fzd_variant nw)
{
	struct buf *s = sig_of(base), *d = buf_new(1 << 20);
	struct delta_sig *sig = NULL;
	int fd = fzd_memfd(nw);

	if (d == NULL || delta_sig_load(buf_ptr(s), buf_len(s), &sig) != 0 ||
	    delta_make_buf(sig, fd, d) != 0) {
		fz_die("delta");
	}
	delta_sig_free(sig);
	buf_free(s);
	close(fd);
	return d;
}

static void
sig_seed(const char *name, enum fzd_variant v, size_t cut)
{
	struct buf *b = sig_of(v);
	size_t n = buf_len(b);

	put("fuzz_delta_sig", name, NULL, 0, buf_ptr(b),
	    cut != 0 && cut < n ? cut : n);
	buf_free(b);
}

/* The patch target's seeds start with the piece byte. */
static void
patch_seed(const char *name, uint8_t piece, enum fzd_variant nw)
{
	struct buf *d = delta_of(FZD_FIXED, nw);

	put("fuzz_delta_patch", name, &piece, 1, buf_ptr(d), buf_len(d));
	buf_free(d);
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: delta_seeds CORPUS\n");
		return 2;
	}
	corpus = argv[1];
	sig_seed("own", FZD_FIXED, 0);
	sig_seed("edited", FZD_EDITED, 0);
	sig_seed("other", FZD_OTHER, 0);
	sig_seed("empty", FZD_EMPTY, 0);
	/* Cut at a block boundary (valid) and inside one (refused). */
	sig_seed("cut_block", FZD_FIXED, 12 + 5 * (4 + DELTA_STRONG_LEN));
	sig_seed("cut_mid", FZD_FIXED, 12 + 5 * (4 + DELTA_STRONG_LEN) + 7);
	patch_seed("edited", 0x3f, FZD_EDITED);
	patch_seed("edited_bytewise", 0x00, FZD_EDITED);
	patch_seed("identical", 0x3f, FZD_FIXED);
	patch_seed("other", 0x07, FZD_OTHER);
	patch_seed("empty", 0x3f, FZD_EMPTY);
	return 0;
}
