/*
 * Scaffolding shared by test_delta.c and test_delta_hostile.c: files in
 * memory (memfds), reproducible random bytes, and a signature or delta
 * of buffers in one call.  Every helper fails the test (cmocka) rather
 * than return an error.
 */
#ifndef SCP_TESTS_UNIT_DELTA_HELPERS_H
#define SCP_TESTS_UNIT_DELTA_HELPERS_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct delta_sig;

/* A memfd holding p[0..n) (p may be NULL when n is 0), offset 0. */
int dh_memfile(const void *p, size_t n);

/* Fails unless the file `fd` is exactly want[0..n). */
void dh_check_content(int fd, const void *want, size_t n);

/* n bytes (a malloc'd buffer, at least 1 byte) from a xorshift seeded
 * with `seed`: the same bytes on every run. */
uint8_t *dh_random(size_t n, uint32_t seed);

/* The signature of base[0..n), in a new buffer capped at DELTA_SIG_MAX. */
struct buf *dh_sig(const void *base, size_t n);

/* That signature, loaded. */
struct delta_sig *dh_sig_of(const void *base, size_t n);

/* The delta from base[0..blen) to nw[0..nlen), in a new buffer. */
struct buf *dh_delta(const void *base, size_t blen, const void *nw,
    size_t nlen);

#endif
