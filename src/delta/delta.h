/*
 * rsync's algorithm for --delta (issue 15, docs/design-delta.md),
 * through librsync's job API, over file descriptors and buffers.
 *
 * The side that has the old file (the base) signs it: delta_sig_make().
 * The side that has the new file loads that signature, delta_sig_load(),
 * and describes its file as copies from the base plus literal bytes,
 * delta_make().  The base's side applies that delta to its base,
 * writing a new file: delta_patch_*().  Signatures and deltas cross the
 * wire, so each side parses what the other wrote as hostile input:
 * bounded, checked before librsync sees it where librsync would trust
 * it, and refused with an error code, never a crash or an abort.
 *
 * Descriptors are read with pread from offset 0 and their file offsets
 * are left alone; the patch output is written with write() at the
 * output descriptor's offset.  Nothing here closes a descriptor it was
 * given.  Every function returns 0 or a negative SCP_E_* code
 * (util/err.h); SCP_E_SYS leaves errno set.  librsync's own messages go
 * to log_debug2(), sanitised.
 */
#ifndef SCP_DELTA_DELTA_H
#define SCP_DELTA_DELTA_H

#include <stddef.h>
#include <stdint.h>

struct buf;

/*
 * Bounds.  A signature is a 12-byte header (magic, block length, strong
 * sum length) and, per block of the base, a 4-byte rolling sum and a
 * truncated BLAKE2 strong sum.  The block length follows librsync's own
 * recommendation (rs_sig_args in librsync 2.3): sqrt(size) rounded down
 * to a multiple of 128, at least 256, so a file of N bytes costs
 * about sqrt(N) blocks of sqrt(N) bytes (1 GiB: 32768 blocks of 32 KiB,
 * a signature of 640 KiB).  Past 64 GiB the block count stops at
 * DELTA_BLOCKS_MAX and the block grows instead, up to DELTA_BLOCK_MAX:
 * that gives DELTA_FILE_MAX, 1 TiB, the largest base we sign (a larger
 * file is copied whole).  The same numbers bound what we accept from a
 * peer, which fixes the most a signature can make us hold:
 * DELTA_SIG_MAX bytes (9 MiB) plus librsync's table of them (about as
 * much again).
 */
#define DELTA_BLOCK_MIN		64		/* accepted from a peer */
#define DELTA_BLOCK_MAX		(4u << 20)
#define DELTA_BLOCKS_MAX	(1u << 18)
#define DELTA_FILE_MAX		((uint64_t)DELTA_BLOCK_MAX * DELTA_BLOCKS_MAX)
/*
 * The strong sums we write: 16 bytes of BLAKE2.  librsync's minimum for
 * random collisions is 10 bytes at 1 TiB; 16 also makes a collision
 * built on purpose cost 2^64 work.  Every delta-built file is checked
 * by its whole SHA-256 besides (issue 15).  We accept 8 to 32.
 */
#define DELTA_STRONG_LEN	16
#define DELTA_STRONG_MIN	8
#define DELTA_STRONG_MAX	32
#define DELTA_SIG_HEADER	12
#define DELTA_SIG_MAX		(DELTA_SIG_HEADER + \
				    (size_t)DELTA_BLOCKS_MAX * \
				    (4 + DELTA_STRONG_MAX))

/*
 * The block length for a base of `size` bytes (the rule above) into
 * *block_len.  SCP_E_TOOBIG over DELTA_FILE_MAX.
 */
int delta_block_len(uint64_t size, uint32_t *block_len);

/*
 * The exact length of the signature delta_sig_make() writes for a base
 * of `size` bytes, so a request can announce it or a buffer be sized.
 * SCP_E_TOOBIG over DELTA_FILE_MAX.
 */
int delta_sig_len(uint64_t size, size_t *len);

/*
 * Appends the signature of the file `fd` (its size from fstat, its
 * bytes read to EOF) to `out`.  SCP_E_TOOBIG when the file is over
 * DELTA_FILE_MAX, or grew while being read past what `out`'s cap
 * holds; on failure `out` may hold part of a signature (the caller
 * drops it).  An empty file has a signature of its header alone.
 */
int delta_sig_make(int fd, struct buf *out);

/* A loaded, indexed signature.  Opaque. */
struct delta_sig;

/*
 * Loads the signature p[0..len) a peer sent (copied: `p` may go after
 * the call) into a new *sig for delta_make(); the caller frees it with
 * delta_sig_free().  Refused, with *sig untouched:
 *  SCP_E_TOOBIG	len over DELTA_SIG_MAX;
 *  SCP_E_FORMAT	not our format (librsync's RabinKarp + BLAKE2
 *			signature, magic "rs\x01G"), a block or strong sum
 *			length out of the bounds above, or a length that is
 *			not the header plus whole blocks (a truncated or
 *			padded signature);
 *  SCP_E_UNSAFE	sums arranged so librsync's lookup table would
 *			degrade into long searches (a flood of colliding
 *			rolling sums: each byte of the new file could then
 *			cost thousands of comparisons), see sigcheck.c;
 *  SCP_E_NOMEM.
 * A signature cut at a block boundary is a valid signature of a
 * shorter base: the delta is still right, only bigger.
 */
int delta_sig_load(const void *p, size_t len, struct delta_sig **sig);

/* The block length and block count of a loaded signature. */
uint32_t delta_sig_block_len(const struct delta_sig *sig);
uint32_t delta_sig_blocks(const struct delta_sig *sig);

/* Frees a signature; NULL-safe. */
void delta_sig_free(struct delta_sig *sig);

/*
 * Called with each piece of a delta as it is made, in order, and with
 * p NULL and n 0 after a turn of librsync that made nothing (a tick, so
 * a caller can keep time).  Returns 0 to go on, or a negative SCP_E_*
 * code that stops delta_make() and is what it returns.  `p` is valid
 * for the call only.
 */
typedef int delta_emit_fn(void *arg, const uint8_t *p, size_t n);

/*
 * Makes the delta of the file `fd` (read to EOF) against `sig` and
 * hands it to `emit` in pieces of at most 64 KiB: memory stays a few
 * blocks whatever the file's size.  The delta is librsync's format
 * (magic "rs\x026", commands, an end command); its size is not bounded
 * here (about the file's size when nothing matches).  One delta at a
 * time per signature: librsync counts its lookups in it.
 *
 * Time is the caller's to bound.  A signature can hold the rolling sum
 * of a block the new file repeats (a block of zeros: anyone can compute
 * it) with a wrong strong sum: then every position of such a run costs
 * a strong sum of one block, block-length times the normal work (16 MiB
 * of zeros against 1 KiB blocks: 47 s instead of 0.5 s), and no check
 * of the signature can tell that decoy from an honest sum.  So a turn
 * is given at most 256 MiB / block length bytes (4 KiB to 64 KiB), emit
 * is called after every one, and a sender that finds the delta slower
 * than sending the file returns an error from emit and copies whole.
 */
int delta_make(struct delta_sig *sig, int fd, delta_emit_fn *emit,
    void *arg);

/* delta_make() appending to `out`; SCP_E_TOOBIG past its cap. */
int delta_make_buf(struct delta_sig *sig, int fd, struct buf *out);

/* Applying a delta that arrives in pieces.  Opaque. */
struct delta_patch;

/*
 * Starts applying a delta to the base file `basefd` (copies are read
 * from it with pread), writing the result to `outfd`; at most `out_max`
 * bytes are ever written, whatever the delta says.  Returns *pp, freed
 * with delta_patch_free(), or SCP_E_NOMEM.
 */
int delta_patch_begin(int basefd, int outfd, uint64_t out_max,
    struct delta_patch **pp);

/*
 * Feeds the next n bytes of the delta (any split: a byte at a time
 * works).  Errors, after which the patch can only be freed (what was
 * written stays written: the caller removes its temporary):
 *  SCP_E_FORMAT	bad magic, an unknown command, a copy of a length
 *			or offset the base does not have, bytes after the
 *			end command;
 *  SCP_E_TOOBIG	the output would pass out_max (nothing past it is
 *			written);
 *  SCP_E_SYS		reading the base or writing the output failed;
 *  SCP_E_NOMEM.
 */
int delta_patch_feed(struct delta_patch *pp, const void *p, size_t n);

/*
 * Ends the delta: SCP_E_SHORT if the end command has not arrived (a
 * truncated delta), else 0 with the bytes written in *written (may be
 * NULL).  Also after an error, *written says how many were.
 */
int delta_patch_finish(struct delta_patch *pp, uint64_t *written);

/* Frees a patch; NULL-safe.  The descriptors stay open. */
void delta_patch_free(struct delta_patch *pp);

/*
 * The whole of delta_patch_begin/feed/finish/free over a delta in
 * memory; *written (may be NULL) is set also on failure.
 */
int delta_patch_buf(int basefd, int outfd, uint64_t out_max,
    const void *p, size_t n, uint64_t *written);

#endif
