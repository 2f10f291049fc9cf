/*
 * A signature from a peer chooses the keys of librsync's lookup table,
 * and librsync does nothing against a hash flood: every position of the
 * new file looks its rolling sum up there, and a lookup walks from the
 * sum's slot to the first empty one.  A peer that packs thousands of
 * sums onto the probe path of a sum our file is full of (a block of
 * zeros is anyone's guess) turns each byte of the delta into thousands
 * of comparisons: a 1 GiB delta that takes hours, and building the
 * table itself goes quadratic the same way.  So before librsync sees a
 * signature, this builds the same table and refuses a signature whose
 * longest probe path is too long.
 *
 * The table is librsync 2.3's (src/sumset.c, src/hashtable.{c,h}):
 * room for count * 10 / 7 + 1 entries rounded up to a power of two,
 * the key the rolling sum itself (RabinKarp sums are not mixed; 0 is
 * stored as 0xffffffff), slot key & mask, then slots +1, +2, +3 ...
 * further on (quadratic probing), a block equal in both sums to one
 * already stored not stored again.  Should a later librsync change the
 * table, this stays a good bound of how clustered the sums are, only no
 * longer an exact one.
 */
#include "delta_int.h"

#include <stdlib.h>
#include <string.h>

#include "../util/err.h"

static uint32_t
sig_weak(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

int
delta_sig_check(const uint8_t *p, uint32_t count, uint32_t strong_len)
{
	const size_t each = 4 + (size_t)strong_len;
	uint32_t *keys = NULL, *who = NULL;
	uint32_t size, tmask, i, j, s, h, start;
	const uint8_t *blk;
	int r, dup;

	/* hashtable.c _hashtable_new(): load factor at most 0.7. */
	s = 1 + (uint32_t)((uint64_t)count * 10 / 7);
	for (size = 2; size < s; size <<= 1) {
		continue;
	}
	tmask = size - 1;
	if ((keys = calloc(size, sizeof(*keys))) == NULL ||
	    (who = calloc(size, sizeof(*who))) == NULL) {
		r = SCP_E_NOMEM;
		goto out;
	}
	/* rs_build_hash_table(): find each block, add it if not found. */
	for (i = 0; i < count; i++) {
		blk = p + (size_t)i * each;
		h = sig_weak(blk);
		h = h != 0 ? h : UINT32_MAX;
		dup = 0;
		for (j = h & tmask, s = 0; keys[j] != 0;
		    j = (j + ++s) & tmask) {
			if (s >= DELTA_PROBE_MAX) {
				r = SCP_E_UNSAFE;
				goto out;
			}
			if (keys[j] == h && memcmp(blk + 4,
			    p + (size_t)who[j] * each + 4, strong_len) == 0) {
				dup = 1;
				break;
			}
		}
		if (!dup) {
			keys[j] = h;
			who[j] = i;
		}
	}
	/*
	 * A lookup of any sum starts at some slot and walks to an empty
	 * one: bound the walk from every slot, not only from the keys
	 * stored (a flood aimed at a sum the signature does not hold).
	 */
	for (start = 0; start < size; start++) {
		for (j = start, s = 0; keys[j] != 0; j = (j + ++s) & tmask) {
			if (s >= DELTA_PROBE_MAX) {
				r = SCP_E_UNSAFE;
				goto out;
			}
		}
	}
	r = 0;
out:
	free(keys);
	free(who);
	return r;
}
