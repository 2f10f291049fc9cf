/*
 * What fuzz_delta_sig, fuzz_delta_patch and the seed maker delta_seeds
 * share: the small fixed files they work on, so that the seeds (real
 * signatures and deltas of these files) lead the fuzzer into the
 * matching and copying paths, not only into the header checks.
 */
#ifndef SCP_TESTS_FUZZ_DELTA_H
#define SCP_TESTS_FUZZ_DELTA_H

#include <stddef.h>
#include <stdint.h>

/* Bytes of the fixed file (16 blocks of librsync's smallest, 256). */
#define FZD_SIZE	4096
/* The patch target's output bound: a few times the file. */
#define FZD_OUT_MAX	16384
/* Room for any variant. */
#define FZD_MAX		(FZD_SIZE + 64)

enum fzd_variant {
	FZD_FIXED,	/* the file: text lines, a run of zeros, noise */
	FZD_EDITED,	/* it with 100 bytes changed and 10 inserted */
	FZD_OTHER,	/* unrelated bytes of the same size */
	FZD_EMPTY,	/* nothing */
};

/* Writes variant `v` to p (FZD_MAX bytes of room); returns its size. */
size_t fzd_content(enum fzd_variant v, uint8_t *p);

/* A memfd holding variant `v`, at offset 0. */
int fzd_memfd(enum fzd_variant v);

#endif
